"""The workspace without Qt: loading through an injected loader, the open-or-replace rule, the
face collection read once; and the document's events, the same for do, undo and redo."""

from __future__ import annotations

import types

import numpy as np
import pytest

from npe.editing.errors import NoModelError, SessionError
from npe.errors import NoFaceError
from npe.editing.workspace import Workspace
from npe.errors import UserError


@pytest.fixture
def workspace(model):
    loaded = []

    def load(weights, device):
        loaded.append((weights, device))
        return model

    workspace = Workspace(model_loader=load)
    workspace.loaded = loaded
    return workspace


def test_load_model_uses_the_injected_loader_and_describes_the_model(workspace, model):
    assert workspace.model is None
    with pytest.raises(NoModelError):
        workspace.open_sample(0)
    summary = workspace.load_model("tiny.safetensors", "cpu")
    assert workspace.loaded == [("tiny.safetensors", "cpu")] and workspace.model is model
    assert (summary.resolution, summary.latent_dim, summary.device) == (32, 16, "CPU")
    assert summary.gallery_size == len(workspace.gallery)


def test_an_unmodified_document_is_replaced_and_a_modified_one_takes_the_face_as_an_undo_step(workspace):
    workspace.load_model()
    seen = []
    workspace.on_session(seen.append)
    first = workspace.open_sample(1)
    second = workspace.open_sample(2)
    assert second is not first and workspace.session is second and seen == [first, second]
    assert second.name == "sample 2" and not second.can_undo

    second.set_latent_value(0, 2.5)
    third = workspace.open_random(seed=7)
    assert third is second and seen == [first, second]  # the edited document stays, with one more step
    assert third.history_labels == ["Latent 0", "Random face"] and third.name == "random face (seed 7)"
    third.undo()
    assert third.name == "sample 2" and third.latent[0] == pytest.approx(2.5)


def test_a_face_collection_is_read_once_and_its_numbers_checked(model, faces32):
    reads = []

    def read(path, resolution):
        reads.append((path, resolution))
        return types.SimpleNamespace(names=[f"dir/f{i}.jpg" for i in range(3)], images=faces32[:3])

    workspace = Workspace(model_loader=lambda weights, device: model, collection_loader=read)
    workspace.load_model()
    assert workspace.open_collection_face("faces.zip", 2).name == "f2.jpg"
    np.testing.assert_array_equal(workspace.session.photo, faces32[2])
    workspace.open_collection_face("faces.zip", 0)
    assert reads == [("faces.zip", 32)]
    with pytest.raises(UserError, match="3 usable face photos; pick a number from 0 to 2"):
        workspace.open_collection_face("faces.zip", 3)


def test_no_face_is_a_user_error_the_gui_can_recognise(workspace, tmp_path):
    from PIL import Image

    workspace.load_model()
    path = tmp_path / "flat.png"
    Image.fromarray(np.full((90, 120, 3), 128, np.uint8)).save(path)
    with pytest.raises(NoFaceError, match="No face"):
        workspace.open_photo(path)
    assert workspace.open_photo(path, whole_image=True).name == "flat.png"
    with pytest.raises(UserError, match="does not exist"):
        workspace.open_photo(tmp_path / "missing.png")


def test_save_and_export_need_an_open_session(workspace, tmp_path):
    workspace.load_model()
    with pytest.raises(SessionError, match="Nothing is open"):
        workspace.save_session(tmp_path / "s.npe")
    workspace.open_sample(0)
    assert workspace.export_png(tmp_path / "out.png").exists()
    assert workspace.open_session_file(workspace.save_session(tmp_path / "s.npe")).name == "sample 0"


def test_do_undo_and_redo_emit_the_same_events(session):
    events = []
    session.events.connect(events.append)
    checks = [
        (lambda: session.set_latent_value(3, 1.0), ["latent", "image", "history"]),
        (lambda: session.paint_protect([(100.0, 70.0)], 5), ["protect", "image", "history"]),
        (lambda: session.new_sample(seed=1), ["source", "latent", "protect", "image", "history"]),
    ]
    for action, expected in checks:
        for step in (action, session.undo, session.redo):
            events.clear()
            step()
            assert events == expected, step
