"""The undo stack and its records on their own (no model): the bounded stack's index and clean
marker worked out by hand, groups and merging, and what each record's undo and redo tell the
document. How records go to and from a session file: test_sessionfile.py."""

from __future__ import annotations

import numpy as np
import pytest

from npe.editing.history import GroupRecord, History, LatentRecord, ProtectRecord, SourceRecord, merge
from tests.editing.records import Target, commit_record, latent, source_state


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
    assert history.is_clean and history.clean_index == 1
    history.push(latent("b", 1, 2))
    assert not history.is_clean
    history.undo()
    assert history.is_clean  # back at the saved state
    history.redo()
    history.push(latent("c", 2, 3))
    history.push(latent("d", 3, 4))  # "a" falls off: the saved state moves down with the stack
    assert history.clean_index == 0 and history.index == 3
    history.push(latent("e", 4, 5))  # now the saved state itself is gone
    assert history.clean_index is None
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
    assert history.clean_index is None and not history.is_clean
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
    # A stroke that says what it did keeps its name inside its gesture; a group of several does not.
    stroke = merge("Paint", [latent("Paint: Smiling +1.8 σ", 0, 1)])
    assert isinstance(stroke, LatentRecord) and stroke.label == "Paint: Smiling +1.8 σ"
    assert merge("Paint", [latent("Paint: Smiling +1.8 σ", 0, 1), latent("Paint: Bangs +1 σ", 1, 2)]).label == "Paint"
    assert merge("Paint", [latent("Painting", 0, 1)]).label == "Paint"


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
