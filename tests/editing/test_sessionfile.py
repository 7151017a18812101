"""The session file format on its own (no model): the array store, every state and record
round-tripping through its plain values, files from older versions, and every check a damaged
file's history must fail."""

from __future__ import annotations

import numpy as np
import pytest

from npe.editing.document import CommitState
from npe.editing.history import CommitRecord, GroupRecord, History, ProtectRecord, SourceRecord
from npe.editing.sessionfile import (
    ArrayStore,
    history_from_state,
    history_to_state,
    record_from_state,
    record_to_state,
    source_from_state,
    source_to_state,
)
from tests.editing.records import Target, commit_record, latent, source_state


def round_trip(record):
    store = ArrayStore()
    state = record_to_state(record, store)
    return record_from_state(state, ArrayStore(store.arrays))


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
    back = source_from_state(source_to_state(state, store), store)
    assert back.box == state.box and all(isinstance(v, float) for v in back.box.values())
    assert back.is_sample is True and back.name == "photo 3"
    np.testing.assert_array_equal(back.alpha, state.alpha)
    assert back.tuned["w"].dtype == np.float16
    assert not back.photo.flags.writeable and not back.protect.flags.writeable and not back.limit.flags.writeable
    # Without alpha, the state has no alpha key at all (files from before transparency stay the same).
    assert "alpha" not in source_to_state(source_state(3), ArrayStore())


def test_old_files_without_limits_tuning_or_alpha_still_load():
    store = ArrayStore()
    state = source_to_state(source_state(2, limit=False), store)
    for key in ("tuned", "limit", "alpha"):
        state.pop(key, None)
    back = source_from_state(state, store)
    assert back.tuned is None and back.limit is None and back.alpha is None
    latent_state = record_to_state(latent("a", 0, 1), store)
    del latent_state["limit_before"], latent_state["limit_after"]
    record = record_from_state(latent_state, store)
    assert record.limit_before is None and record.limit_after is None
    commit_state = record_to_state(commit_record(), store)
    del commit_state["before"]["limit"]
    assert record_from_state(commit_state, store).before.limit is None


def test_a_history_round_trips_with_its_limit_and_index():
    history = History(limit=7)
    for label in "abc":
        history.push(latent(label, 0, 1))
    history.undo()
    store = ArrayStore()
    state = history_to_state(history, store)
    assert state["limit"] == 7 and state["index"] == 2 and len(state["records"]) == 3
    back = history_from_state(state, store)
    assert back.limit == 7 and back.index == 2 and back.labels == ["a", "b", "c"] and back.can_redo
    del state["limit"]
    assert history_from_state(state, store).limit == 500


@pytest.mark.parametrize("index", [-1, 4])
def test_a_history_index_out_of_range_is_refused(index):
    history = History()
    for label in "abc":
        history.push(latent(label, 0, 1))
    store = ArrayStore()
    state = history_to_state(history, store)
    state["index"] = index
    with pytest.raises(ValueError, match="^history index out of range$"):
        history_from_state(state, store)
    state["index"] = 3
    assert history_from_state(state, store).index == 3  # the end of the stack is a valid index
    state["index"] = 0
    assert history_from_state(state, store).index == 0


@pytest.mark.parametrize("state", [None, [], {}, {"type": "paint"}])
def test_an_unknown_record_type_is_refused(state):
    with pytest.raises(ValueError, match="unknown history record type"):
        record_from_state(state, ArrayStore())


@pytest.mark.parametrize("rect", [[0, 0, 2], [0, 0, 2, 2, 2], [2, 0, 1, 2], [0, 2, 2, 1], [-1, 0, 2, 2], [0, -1, 2, 2]])
def test_a_bad_rectangle_is_refused(rect):
    store = ArrayStore()
    protect = record_to_state(ProtectRecord.from_regions("p", (0, 0, 2, 2), np.ones((2, 2), bool), np.zeros((2, 2), bool)), store)
    protect["rect"] = rect
    with pytest.raises(ValueError, match="bad rectangle"):
        record_from_state(protect, store)
    commit = record_to_state(commit_record(), store)
    commit["rect"] = rect
    with pytest.raises(ValueError, match="bad rectangle"):
        record_from_state(commit, store)


def test_an_empty_rectangle_at_the_origin_is_allowed():
    store = ArrayStore()
    record = ProtectRecord.from_regions("p", (0, 0, 0, 0), np.zeros((0, 0), bool), np.zeros((0, 0), bool))
    assert record_from_state(record_to_state(record, store), store).rect == (0, 0, 0, 0)


def test_protect_bits_that_do_not_match_the_rectangle_are_refused():
    store = ArrayStore()
    # 3 x 3 = 9 bits need 2 bytes; a 3 x 2 rectangle (6 bits) needs 1.
    state = record_to_state(ProtectRecord.from_regions("p", (0, 0, 3, 3), np.ones((3, 3), bool), np.zeros((3, 3), bool)), store)
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
    state = record_to_state(commit_record(), store)  # rect (1, 2, 4, 5): 3 x 3
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
    state = record_to_state(latent("a", 0, 1), store)
    with pytest.raises(ValueError, match="expected float32"):
        record_from_state(dict(state, before=store.put(np.zeros(3, np.float64))), store)
    with pytest.raises(ValueError, match="expected 1"):
        record_from_state(dict(state, after=store.put(np.zeros((3, 1), np.float32))), store)
    with pytest.raises(ValueError, match="expected uint8"):
        record_from_state(dict(state, limit_before=store.put(np.zeros((2, 2), np.float32))), store)
    with pytest.raises(ValueError, match="expected 2"):
        record_from_state(dict(state, limit_after=store.put(np.zeros(4, np.uint8))), store)
    source = record_to_state(SourceRecord("s", source_state(1), source_state(2)), store)
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
    state = record_to_state(RECORDS[kind](), store)
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
    state = record_to_state(ProtectRecord.from_regions("p", (0, 0, 3, 3), np.ones((3, 3), bool), np.zeros((3, 3), bool)), store)
    short = store.put(np.zeros(1, np.uint8))
    for field in ("before", "after"):
        with pytest.raises(ValueError, match="^protect record size does not match its rectangle$"):
            record_from_state(dict(state, **{field: short}), store)


def test_every_record_type_has_one_format():
    """A new record class in npe.editing.history needs its RecordFormat here, under a name of its own."""
    from typing import get_args

    from npe.editing.history import Record
    from npe.editing.sessionfile import RECORD_FORMATS

    assert [f.record for f in RECORD_FORMATS] == list(get_args(Record))
    assert len({f.kind for f in RECORD_FORMATS}) == len(RECORD_FORMATS)
