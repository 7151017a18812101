"""The undo stack and its records on their own (no model): the bounded stack's index and clean
marker worked out by hand, groups, records round-tripping through an ArrayStore, and every check
a damaged session file's history must fail."""

from __future__ import annotations

import numpy as np
import pytest

from npe.editing.history import (
    ArrayStore,
    CommitRecord,
    CommitState,
    GroupRecord,
    History,
    LatentRecord,
    ProtectRecord,
    SourceRecord,
    SourceState,
    merge,
    record_from_state,
)


class Target:
    """A Restorable that writes down what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def set_latent(self, latent, *, limit=None):
        self.calls.append(("latent", np.array(latent), None if limit is None else np.array(limit)))

    def set_protect_region(self, rect, values):
        self.calls.append(("protect", tuple(rect), np.array(values)))

    def set_source(self, source):
        self.calls.append(("source", source))

    def apply_commit(self, state, rect, region):
        self.calls.append(("commit", state, tuple(rect), np.array(region)))


def latent(label: str, a: float, b: float, limit_a: np.ndarray | None = None, limit_b: np.ndarray | None = None) -> LatentRecord:
    return LatentRecord(label, np.full(3, a, np.float32), np.full(3, b, np.float32), limit_a, limit_b)


def source_state(value: int, *, protect: bool = True, limit: bool = True, alpha: bool = False, tuned: bool = False) -> SourceState:
    return SourceState(
        photo=np.full((6, 8, 3), value, np.uint8), box={"center_x": 4.0, "center_y": 3.0, "size": 6.0, "angle": 0.0},
        crop=np.full((4, 4, 3), value + 1, np.uint8), latent0=np.full(3, value, np.float32), latent=np.full(3, value + 0.5, np.float32),
        protect=np.eye(6, 8, dtype=bool) if protect else None, is_sample=bool(value % 2), name=f"photo {value}",
        tuned={"w": np.full(2, value, np.float16)} if tuned else None,
        limit=np.full((4, 4), 200, np.uint8) if limit else None, alpha=np.full((6, 8), 128, np.uint8) if alpha else None,
    )


def commit_record() -> CommitRecord:
    before = CommitState(np.zeros((4, 4, 3), np.uint8), np.zeros(3, np.float32), np.ones(3, np.float32), np.full((4, 4), 255, np.uint8))
    after = CommitState(np.ones((4, 4, 3), np.uint8), np.full(3, 2, np.float32), np.full(3, 2, np.float32), None)
    return CommitRecord("Update", (1, 2, 4, 5), np.zeros((3, 3, 3), np.uint8), np.full((3, 3, 3), 9, np.uint8), before, after)


def round_trip(record):
    store = ArrayStore()
    state = record.to_state(store)
    return record_from_state(state, ArrayStore(store.arrays))


# --- the stack ------------------------------------------------------------------------------------


def test_undo_and_redo_walk_the_index():
    history = History()
    assert history.undo() is None and history.redo() is None and not history.can_undo and not history.can_redo
    a, b = latent("a", 0, 1), latent("b", 1, 2)
    history.push(a)
    history.push(b)
    assert history.index == 2 and history.labels == ["a", "b"] and history.can_undo and not history.can_redo
    assert history.undo() is b and history.index == 1 and history.can_redo
    assert history.undo() is a and history.index == 0 and not history.can_undo
    assert history.undo() is None and history.index == 0
    assert history.redo() is a and history.redo() is b and history.index == 2
    assert history.redo() is None and history.index == 2


def test_a_new_step_after_undo_drops_what_could_be_redone():
    history = History()
    for label in "abc":
        history.push(latent(label, 0, 1))
    history.undo()
    history.undo()
    history.push(latent("d", 0, 1))
    assert history.labels == ["a", "d"] and history.index == 2 and not history.can_redo


def test_the_oldest_steps_fall_off_beyond_the_limit():
    with pytest.raises(ValueError, match="at least one step"):
        History(0)
    History(1)  # one step is enough
    history = History(limit=3)
    for label in "abcde":
        history.push(latent(label, 0, 1))
    assert history.labels == ["c", "d", "e"] and history.index == 3


def test_the_clean_marker_follows_saves_undo_and_the_limit():
    history = History(limit=3)
    assert history.is_clean  # a fresh session is saved-equivalent
    history.push(latent("a", 0, 1))
    assert not history.is_clean
    history.mark_clean()
    assert history.is_clean and history.to_state(ArrayStore())["clean"] == 1
    history.push(latent("b", 1, 2))
    assert not history.is_clean
    history.undo()
    assert history.is_clean  # back at the saved state
    history.redo()
    history.push(latent("c", 2, 3))
    history.push(latent("d", 3, 4))  # "a" falls off: the saved state moves down with the stack
    assert history.to_state(ArrayStore())["clean"] == 0 and history.index == 3
    history.push(latent("e", 4, 5))  # now the saved state itself is gone
    assert history.to_state(ArrayStore())["clean"] is None
    for _ in range(3):
        history.undo()
    assert not history.is_clean  # no index is the saved state any more


def test_undo_then_a_new_step_forgets_a_saved_state_ahead_of_it():
    history = History()
    history.push(latent("a", 0, 1))
    history.push(latent("b", 1, 2))
    history.mark_clean()  # saved at index 2
    history.undo()
    history.push(latent("c", 1, 3))  # the saved state could only be reached by a redo that is gone
    assert history.to_state(ArrayStore())["clean"] is None and not history.is_clean
    history.undo()
    assert not history.is_clean


def test_clear_empties_the_stack_and_counts_as_saved():
    history = History()
    history.push(latent("a", 0, 1))
    history.clear()
    assert history.labels == [] and history.index == 0 and history.is_clean and history.nbytes == 0


def test_nbytes_adds_up_the_stored_arrays():
    limit = np.zeros((4, 4), np.uint8)
    assert latent("a", 0, 1).nbytes == 24
    assert latent("a", 0, 1, limit, None).nbytes == 24 + 16
    assert latent("a", 0, 1, limit, limit).nbytes == 24 + 32
    protect = ProtectRecord.from_regions("p", (0, 0, 4, 4), np.ones((4, 4), bool), np.zeros((4, 4), bool))
    assert protect.nbytes == 2 + 2  # 16 bits each
    record = commit_record()
    assert record.nbytes == 27 + 27 + 2 * (48 + 2 * 12)
    source = SourceRecord("s", source_state(1), source_state(2))
    assert source.nbytes == 48 + 48 + 4 * 12
    group = GroupRecord("g", [latent("a", 0, 1), protect])
    assert group.nbytes == 24 + 4
    history = History()
    history.push(latent("a", 0, 1))
    history.push(protect)
    assert history.nbytes == 28
    state = source_state(1, alpha=True, tuned=True)
    assert state.nbytes == 144 + 48 + 12 + 12 + 48 + 16 + 48 + 4


# --- groups --------------------------------------------------------------------------------------


def test_latent_changes_in_a_group_merge_into_one_record_with_the_outer_limits():
    limit_a, limit_b, limit_c, limit_d = (np.full((2, 2), v, np.uint8) for v in (1, 2, 3, 4))
    history = History()
    history.begin_group("Drag")
    assert history.grouping
    history.push(latent("x", 0, 1, limit_a, limit_b))
    history.push(latent("y", 1, 1.5, limit_b, limit_c))
    history.push(latent("z", 1.5, 2, limit_c, limit_d))
    assert [r.label for r in history.open_records()] == ["x", "y", "z"] and history.labels == []
    history.relabel_group("Latent 3")
    record = history.end_group()
    assert not history.grouping and history.labels == ["Latent 3"] and history.index == 1
    assert isinstance(record, LatentRecord)
    np.testing.assert_array_equal(record.before, np.zeros(3))
    np.testing.assert_array_equal(record.after, np.full(3, 2))
    assert record.limit_before is limit_a and record.limit_after is limit_d
    history.relabel_group("nothing open")  # a no-op outside a group
    assert history.labels == ["Latent 3"] and history.open_records() == []


def test_an_empty_group_pushes_nothing_and_a_single_record_is_renamed():
    history = History()
    history.begin_group("Empty")
    assert history.end_group() is None and history.labels == []
    protect = ProtectRecord.from_regions("Protect", (0, 0, 2, 2), np.zeros((2, 2), bool), np.ones((2, 2), bool))
    assert merge("Brush", [protect]) is protect and protect.label == "Brush"


def test_a_mixed_group_undoes_in_reverse_and_redoes_in_order():
    protect = ProtectRecord.from_regions("p", (1, 1, 3, 2), np.array([[True, False]]), np.array([[False, True]]))
    group = merge("Mixed", [latent("a", 0, 1), protect])
    assert isinstance(group, GroupRecord) and group.label == "Mixed"
    target = Target()
    group.undo(target)
    assert [c[0] for c in target.calls] == ["protect", "latent"]
    np.testing.assert_array_equal(target.calls[0][2], [[True, False]])
    assert target.calls[0][1] == (1, 1, 3, 2)
    np.testing.assert_array_equal(target.calls[1][1], np.zeros(3))
    target.calls.clear()
    group.redo(target)
    assert [c[0] for c in target.calls] == ["latent", "protect"]
    np.testing.assert_array_equal(target.calls[0][1], np.ones(3))
    np.testing.assert_array_equal(target.calls[1][2], [[False, True]])


def test_records_put_back_exactly_what_they_hold():
    limit_a, limit_b = np.full((2, 2), 5, np.uint8), np.full((2, 2), 6, np.uint8)
    target = Target()
    record = latent("a", 0, 1, limit_a, limit_b)
    record.undo(target)
    record.redo(target)
    (_, z_undo, l_undo), (_, z_redo, l_redo) = target.calls
    np.testing.assert_array_equal(z_undo, np.zeros(3))
    np.testing.assert_array_equal(l_undo, limit_a)
    np.testing.assert_array_equal(z_redo, np.ones(3))
    np.testing.assert_array_equal(l_redo, limit_b)
    before, after = source_state(1), source_state(2)
    target.calls.clear()
    SourceRecord("s", before, after).undo(target)
    SourceRecord("s", before, after).redo(target)
    assert target.calls[0][1] is before and target.calls[1][1] is after
    commit = commit_record()
    target.calls.clear()
    commit.undo(target)
    commit.redo(target)
    assert target.calls[0][1] is commit.before and target.calls[0][2] == (1, 2, 4, 5)
    np.testing.assert_array_equal(target.calls[0][3], commit.region_before)
    assert target.calls[1][1] is commit.after
    np.testing.assert_array_equal(target.calls[1][3], commit.region_after)


# --- session files ---------------------------------------------------------------------------------


def test_an_array_store_keeps_a_shared_array_once_and_checks_what_it_gives_back():
    store = ArrayStore()
    shared = np.zeros(3, np.float32)
    assert store.put(None) is None
    assert store.put(shared) == "a0" and store.put(shared) == "a0" and store.put(np.zeros(3, np.float32)) == "a1"
    assert list(store.arrays) == ["a0", "a1"]
    assert store.get(None) is None and store.get("a0") is shared
    assert store.get("a0", np.float32, 1) is shared
    with pytest.raises(ValueError, match="missing array 'a9'"):
        store.get("a9")
    with pytest.raises(ValueError, match="missing array"):
        store.get(0)
    with pytest.raises(ValueError, match="is float32, expected uint8"):
        store.get("a0", np.uint8)
    with pytest.raises(ValueError, match="has 1 dimensions, expected 2"):
        store.get("a0", np.float32, 2)
    assert ArrayStore({"b": shared}).get("b") is shared


@pytest.mark.parametrize("make", [
    lambda: latent("a", 0, 1),
    lambda: latent("a", 0, 1, np.full((2, 2), 7, np.uint8), np.full((2, 2), 9, np.uint8)),
    lambda: ProtectRecord.from_regions("p", (1, 2, 4, 5), np.eye(3, dtype=bool), ~np.eye(3, dtype=bool)),
    lambda: SourceRecord("s", source_state(1), source_state(2, protect=False, limit=False, alpha=True, tuned=True)),
    commit_record,
    lambda: GroupRecord("g", [latent("a", 0, 1), commit_record()]),
])
def test_every_record_round_trips_through_its_state(make):
    record = make()
    back = round_trip(record)
    assert type(back) is type(record)
    assert repr(back) == repr(record)  # dataclass fields (arrays by value) all equal
    target_a, target_b = Target(), Target()
    record.undo(target_a)
    back.undo(target_b)
    record.redo(target_a)
    back.redo(target_b)
    assert repr(target_a.calls) == repr(target_b.calls)


def test_a_source_state_keeps_its_types_through_a_round_trip():
    state = source_state(3, alpha=True, tuned=True)
    store = ArrayStore()
    back = SourceState.from_state(state.to_state(store), store)
    assert back.box == state.box and all(isinstance(v, float) for v in back.box.values())
    assert back.is_sample is True and back.name == "photo 3"
    np.testing.assert_array_equal(back.alpha, state.alpha)
    assert back.tuned["w"].dtype == np.float16
    assert not back.photo.flags.writeable and not back.protect.flags.writeable and not back.limit.flags.writeable
    # Without alpha, the state has no alpha key at all (files from before transparency stay the same).
    assert "alpha" not in source_state(3).to_state(ArrayStore())


def test_old_files_without_limits_tuning_or_alpha_still_load():
    store = ArrayStore()
    state = source_state(2, limit=False).to_state(store)
    for key in ("tuned", "limit", "alpha"):
        state.pop(key, None)
    back = SourceState.from_state(state, store)
    assert back.tuned is None and back.limit is None and back.alpha is None
    latent_state = latent("a", 0, 1).to_state(store)
    del latent_state["limit_before"], latent_state["limit_after"]
    record = record_from_state(latent_state, store)
    assert record.limit_before is None and record.limit_after is None
    commit_state = commit_record().to_state(store)
    del commit_state["before"]["limit"]
    assert record_from_state(commit_state, store).before.limit is None


def test_a_history_round_trips_with_its_limit_and_index():
    history = History(limit=7)
    for label in "abc":
        history.push(latent(label, 0, 1))
    history.undo()
    store = ArrayStore()
    state = history.to_state(store)
    assert state["limit"] == 7 and state["index"] == 2 and len(state["records"]) == 3
    back = History.from_state(state, store)
    assert back.limit == 7 and back.index == 2 and back.labels == ["a", "b", "c"] and back.can_redo
    del state["limit"]
    assert History.from_state(state, store).limit == 500


@pytest.mark.parametrize("index", [-1, 4])
def test_a_history_index_out_of_range_is_refused(index):
    history = History()
    for label in "abc":
        history.push(latent(label, 0, 1))
    store = ArrayStore()
    state = history.to_state(store)
    state["index"] = index
    with pytest.raises(ValueError, match="^history index out of range$"):
        History.from_state(state, store)
    state["index"] = 3
    assert History.from_state(state, store).index == 3  # the end of the stack is a valid index
    state["index"] = 0
    assert History.from_state(state, store).index == 0


@pytest.mark.parametrize("state", [None, [], {}, {"type": "paint"}])
def test_an_unknown_record_type_is_refused(state):
    with pytest.raises(ValueError, match="unknown history record type"):
        record_from_state(state, ArrayStore())


@pytest.mark.parametrize("rect", [[0, 0, 2], [0, 0, 2, 2, 2], [2, 0, 1, 2], [0, 2, 2, 1], [-1, 0, 2, 2], [0, -1, 2, 2]])
def test_a_bad_rectangle_is_refused(rect):
    store = ArrayStore()
    protect = ProtectRecord.from_regions("p", (0, 0, 2, 2), np.ones((2, 2), bool), np.zeros((2, 2), bool)).to_state(store)
    protect["rect"] = rect
    with pytest.raises(ValueError, match="bad rectangle"):
        record_from_state(protect, store)
    commit = commit_record().to_state(store)
    commit["rect"] = rect
    with pytest.raises(ValueError, match="bad rectangle"):
        record_from_state(commit, store)


def test_an_empty_rectangle_at_the_origin_is_allowed():
    store = ArrayStore()
    record = ProtectRecord.from_regions("p", (0, 0, 0, 0), np.zeros((0, 0), bool), np.zeros((0, 0), bool))
    assert record_from_state(record.to_state(store), store).rect == (0, 0, 0, 0)


def test_protect_bits_that_do_not_match_the_rectangle_are_refused():
    store = ArrayStore()
    # 3 x 3 = 9 bits need 2 bytes; a 3 x 2 rectangle (6 bits) needs 1.
    state = ProtectRecord.from_regions("p", (0, 0, 3, 3), np.ones((3, 3), bool), np.zeros((3, 3), bool)).to_state(store)
    assert store.arrays[state["before"]].size == 2
    for field in ("before", "after"):
        broken = dict(state, **{field: store.put(np.zeros(1, np.uint8))})
        with pytest.raises(ValueError, match="does not match its rectangle"):
            record_from_state(broken, store)
    state["rect"] = [0, 0, 3, 2]
    with pytest.raises(ValueError, match="does not match its rectangle"):
        record_from_state(state, store)
    state["rect"] = [1, 1, 4, 4]  # the same size elsewhere is fine
    assert record_from_state(state, store).rect == (1, 1, 4, 4)


def test_commit_regions_that_do_not_match_the_rectangle_are_refused():
    store = ArrayStore()
    state = commit_record().to_state(store)  # rect (1, 2, 4, 5): 3 x 3
    for rect in ([1, 2, 5, 5], [1, 2, 4, 6]):
        with pytest.raises(ValueError, match="do not match their rectangle"):
            record_from_state(dict(state, rect=rect), store)
    wrong_after = dict(state, region_after=store.put(np.zeros((3, 4, 3), np.uint8)))
    with pytest.raises(ValueError, match="do not match their rectangle"):
        record_from_state(wrong_after, store)
    wrong_channels = dict(state, region_after=store.put(np.zeros((3, 3, 4), np.uint8)))
    with pytest.raises(ValueError, match="do not match their rectangle"):
        record_from_state(wrong_channels, store)


def test_record_arrays_of_the_wrong_kind_are_refused():
    store = ArrayStore()
    state = latent("a", 0, 1).to_state(store)
    with pytest.raises(ValueError, match="expected float32"):
        record_from_state(dict(state, before=store.put(np.zeros(3, np.float64))), store)
    with pytest.raises(ValueError, match="expected 1"):
        record_from_state(dict(state, after=store.put(np.zeros((3, 1), np.float32))), store)
    with pytest.raises(ValueError, match="expected uint8"):
        record_from_state(dict(state, limit_before=store.put(np.zeros((2, 2), np.float32))), store)
    with pytest.raises(ValueError, match="expected 2"):
        record_from_state(dict(state, limit_after=store.put(np.zeros(4, np.uint8))), store)
    source = SourceRecord("s", source_state(1), source_state(2)).to_state(store)
    with pytest.raises(ValueError, match="expected bool"):
        source["before"]["protect"] = store.put(np.zeros((6, 8), np.uint8))
        record_from_state(source, store)


def _array_fields(state, store, path=()):
    """Every (path, key) in a record's state that names an array of ``store``."""
    if isinstance(state, dict):
        for name, value in state.items():
            yield from _array_fields(value, store, (*path, name))
    elif isinstance(state, list):
        for index, value in enumerate(state):
            yield from _array_fields(value, store, (*path, index))
    elif isinstance(state, str) and state in store.arrays and path[-1] not in ("label", "name", "type"):
        yield path


def _replaced(state, path, value):
    if not path:
        return value
    copy = dict(state) if isinstance(state, dict) else list(state)
    copy[path[0]] = _replaced(state[path[0]], path[1:], value)
    return copy


RECORDS = {
    "latent": lambda: latent("a", 0, 1, np.full((2, 2), 7, np.uint8), np.full((2, 2), 9, np.uint8)),
    "protect": lambda: ProtectRecord.from_regions("p", (1, 2, 4, 5), np.eye(3, dtype=bool), ~np.eye(3, dtype=bool)),
    "source": lambda: SourceRecord("s", source_state(1, alpha=True, tuned=True), source_state(2, alpha=True)),
    "commit": lambda: CommitRecord("Update", (1, 2, 4, 5), np.zeros((3, 3, 3), np.uint8), np.ones((3, 3, 3), np.uint8),
                                   CommitState(np.zeros((4, 4, 3), np.uint8), np.zeros(3, np.float32), np.ones(3, np.float32), np.zeros((4, 4), np.uint8)),
                                   CommitState(np.ones((4, 4, 3), np.uint8), np.ones(3, np.float32), np.ones(3, np.float32), np.ones((4, 4), np.uint8))),
}


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_every_array_of_a_record_is_checked_for_its_dtype_and_dimensions(kind):
    """A damaged file whose arrays have another dtype or another number of dimensions is refused,
    whichever of the record's arrays it is (not only the first one checked)."""
    store = ArrayStore()
    state = RECORDS[kind]().to_state(store)
    paths = list(_array_fields(state, store))
    assert len(paths) >= 2
    checked = 0
    for path in paths:
        array = store.arrays[_get(state, path)]
        other_dtype = np.float64 if array.dtype != np.float64 else np.float32
        wrong_dtype = store.put(array.astype(other_dtype))
        with pytest.raises(ValueError, match="expected"):
            record_from_state(_replaced(state, path, wrong_dtype), store)
        if "tuned" in path:  # the tuned generator's arrays have the shapes of its parameters
            continue
        wrong_ndim = store.put(array[None])
        with pytest.raises(ValueError, match="dimensions"):
            record_from_state(_replaced(state, path, wrong_ndim), store)
        checked += 1
    assert checked == len([p for p in paths if "tuned" not in p])
    record_from_state(state, store)  # and the undamaged state still loads


def _get(state, path):
    for key in path:
        state = state[key]
    return state


def test_both_protect_bit_arrays_must_match_the_rectangle():
    store = ArrayStore()
    state = ProtectRecord.from_regions("p", (0, 0, 3, 3), np.ones((3, 3), bool), np.zeros((3, 3), bool)).to_state(store)
    short = store.put(np.zeros(1, np.uint8))
    for field in ("before", "after"):
        with pytest.raises(ValueError, match="^protect record size does not match its rectangle$"):
            record_from_state(dict(state, **{field: short}), store)
