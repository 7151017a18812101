"""Named attribute edits wired into the editor: the session's actions, the workspace's loading and
warnings, `npe edit --attribute` and session files (tiny model with hand-made attribute directions)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from npe.cli import main
from npe.editing import EditSession
from npe.editing.attributes import AttributeDirections, AttributeDirectionsError, UnknownAttributeError, model_identifier
from npe.editing.compose import FEATHER
from npe.editing.errors import SessionError

NAMES = ("Smiling", "Eyeglasses", "Male")
SCALES = (0.5, 1.5, 0.8)


def tiny_attributes(model, model_id: str | None = None) -> AttributeDirections:
    """Three unit directions (random, not orthogonal) for the tiny model, made with its identifier."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(len(NAMES), model.config.latent_dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    normals = rng.normal(size=vectors.shape)
    identifier = model_identifier(model) if model_id is None else model_id
    return AttributeDirections(NAMES, vectors, np.array(SCALES), normals, np.zeros(len(NAMES)), identifier)


def save_with_attributes(model, path, attributes: AttributeDirections) -> str:
    """The model saved as PATH.safetensors with a directions file (principal + attributes) beside it."""
    from npe.editing.directions import directions_path, principal_directions, save_directions
    from npe.model import save_weights

    save_weights(model, path)
    latents = np.random.default_rng(0).normal(size=(50, model.config.latent_dim))
    weights = f"{path}.safetensors"
    save_directions(principal_directions(latents, count=3), directions_path(weights), attributes=attributes)
    return weights


def file_attributes(weights: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """The attribute names and tensors as stored in the file, read without npe (the oracle's input)."""
    from safetensors.numpy import load_file

    path = weights.replace(".safetensors", ".directions.safetensors")
    data = open(path, "rb").read()
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    return json.loads(header["__metadata__"]["attribute_names"]), load_file(path)


def moved_by_hand(latent: np.ndarray, weights: str, values: dict[str, float]) -> np.ndarray:
    """z + sum v * scale * d with numpy from the file's tensors (names matched case-insensitively)."""
    names, tensors = file_attributes(weights)
    result = latent.astype(np.float64)
    for name, value in values.items():
        i = [n.lower() for n in names].index(name.lower())
        result = result + value * float(tensors["attribute_scales"][i]) * tensors["attribute_vectors"][i].astype(np.float64)
    return result


@pytest.fixture
def attributes(model):
    return tiny_attributes(model)


@pytest.fixture
def attr_session(session, attributes):
    session.attributes = attributes
    return session


# --- the session's actions ---------------------------------------------------------------------------


def test_a_slider_drag_is_one_exact_undo_step_labelled_with_the_attribute(attr_session, attributes):
    session = attr_session
    z0 = session.latent
    session.begin_group("Smiling")
    for value in (0.3, 0.9, -0.4, 1.5):  # a drag goes back and forth; each call moves from the start
        session.set_attribute("smiling", value)
    session.end_group()
    assert session.history_labels == ["Smiling +1.5 σ"]
    after = session.latent
    d, scale = attributes.vectors[0].astype(np.float64), SCALES[0]
    np.testing.assert_allclose(after, z0 + 1.5 * scale * d, atol=1e-6)
    np.testing.assert_allclose(session.attribute_values(), [1.5, 0.0, 0.0], atol=1e-5)
    assert session.undo()
    assert np.array_equal(session.latent, z0)  # bit-exact
    assert np.array_equal(session.attribute_values(), np.zeros(3, np.float32))
    assert session.redo()
    assert np.array_equal(session.latent, after)


def test_a_second_drag_moves_from_where_the_first_left_the_slider(attr_session):
    session = attr_session
    session.set_attribute("Eyeglasses", 1.0)
    session.begin_group("Eyeglasses")
    session.set_attribute("Eyeglasses", 2.0)
    session.set_attribute("Eyeglasses", 2.5)
    session.end_group()
    assert session.history_labels == ["Eyeglasses +1 σ", "Eyeglasses +1.5 σ"]
    np.testing.assert_allclose(session.attribute_values(), [0.0, 2.5, 0.0], atol=1e-5)


def test_move_attributes_adds_each_vector_and_is_one_step(attr_session, attributes):
    session = attr_session
    z0 = session.latent.astype(np.float64)
    assert session.move_attributes({"SMILING": 2.0, "male": -1.5})
    expected = z0 + 2.0 * SCALES[0] * attributes.vectors[0] - 1.5 * SCALES[2] * attributes.vectors[2]
    np.testing.assert_allclose(session.latent, expected, atol=1e-6)
    assert session.history_labels == ["Smiling +2 σ, Male −1.5 σ"]
    with pytest.raises(UnknownAttributeError, match="Known attributes: Smiling, Eyeglasses, Male"):
        session.move_attributes({"Bald": 1.0})
    with pytest.raises(UnknownAttributeError):
        session.set_attribute("bald", 1.0)
    assert session.history_labels == ["Smiling +2 σ, Male −1.5 σ"]


def test_reset_attributes_takes_them_out_and_keeps_other_edits(attr_session):
    session = attr_session
    session.set_latent_value(0, 2.0)
    painted = session.latent
    session.move_attributes({"Smiling": 1.0, "Eyeglasses": -2.0})
    assert np.abs(session.attribute_values()).max() > 0.5
    assert session.reset_attributes()
    assert session.history_labels[-1] == "Reset attributes"
    np.testing.assert_allclose(session.attribute_values(), 0.0, atol=1e-5)
    # z - z0 was "latent 0 moved" + attribute offsets; the latent edit's own attribute components
    # are taken out too (least squares), so compare with that done by hand.
    basis = (session.attributes.vectors * np.array(SCALES)[:, None]).astype(np.float64)
    delta = painted.astype(np.float64) - session.latent0
    residual = delta - basis.T @ np.linalg.lstsq(basis.T, delta, rcond=None)[0]
    np.testing.assert_allclose(session.latent, session.latent0 + residual, atol=1e-5)
    assert not session.reset_attributes()  # nothing left to reset: no step


def test_attribute_edits_go_through_the_masking_and_the_protect_mask(attr_session, photo):
    session = attr_session
    assert session.paint_protect([(92.0, 70.0), (108.0, 70.0)], radius=8)
    protect = session.protect_mask
    session.move_attributes({"Smiling": 3.0, "Male": -3.0})
    result = session.result()
    x0, y0, x1, y1 = session.box.grown(FEATHER).pixel_bounds(photo.shape[1], photo.shape[0])  # the box and its fade
    outside = np.ones(photo.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(result[protect], photo[protect])
    assert np.array_equal(result[outside], photo[outside])
    assert np.any(result != photo)


def test_without_attribute_directions_the_actions_say_so(session):
    assert session.attributes is None and session.attribute_values().size == 0
    with pytest.raises(SessionError, match="no attribute directions"):
        session.set_attribute("Smiling", 1.0)


def test_directions_of_another_latent_size_are_refused(session, attributes):
    other = AttributeDirections(NAMES, attributes.vectors[:, :5], SCALES, attributes.normals[:, :5], np.zeros(3), "x")
    with pytest.raises(SessionError, match="5 latents"):
        session.attributes = other


def test_attribute_edits_survive_a_session_file(attr_session, attributes, model, tmp_path):
    session = attr_session
    session.move_attributes({"Male": 2.0})
    session.begin_group("Smiling")
    session.set_attribute("Smiling", -1.25)
    session.end_group()
    path = session.save(tmp_path / "edit.npe")
    again = EditSession.load(path, model)
    again.attributes = attributes  # as the Workspace equips every session it opens
    assert again.history_labels == ["Male +2 σ", "Smiling −1.25 σ"]
    assert np.array_equal(again.latent, session.latent)
    assert np.array_equal(again.attribute_values(), session.attribute_values())
    again.undo()
    again.undo()
    assert np.array_equal(again.latent, session.latent0)


# --- the workspace: loading beside the weights, warnings -----------------------------------------------


def test_the_workspace_loads_the_attributes_beside_the_weights(model, tmp_path, attributes):
    from npe.editing.workspace import Workspace

    weights = save_with_attributes(model, tmp_path / "tiny", attributes)
    workspace = Workspace()
    summary = workspace.load_model(weights, "cpu")
    assert summary.attribute_names == NAMES and summary.attribute_warning is None
    session = workspace.open_sample(0)
    assert session.attributes is workspace.attributes
    np.testing.assert_array_equal(session.attributes.vectors, attributes.vectors)


@pytest.mark.parametrize("problem", ["missing", "damaged", "another model"])
def test_a_bad_attribute_file_is_a_warning_and_an_error_for_the_cli(model, tmp_path, photo, problem, capsys):
    from npe.editing.directions import directions_path
    from npe.editing.workspace import Workspace
    from npe.model import save_weights

    if problem == "missing":
        save_weights(model, tmp_path / "tiny")
        weights, expected = str(tmp_path / "tiny.safetensors"), "No directions file beside"
    elif problem == "damaged":
        weights = save_with_attributes(model, tmp_path / "tiny", tiny_attributes(model))
        directions_path(weights).write_bytes(b"not a safetensors file at all")
        expected = "is damaged"
    else:
        weights = save_with_attributes(model, tmp_path / "tiny", tiny_attributes(model, model_id="0123456789abcdef"))
        expected = "made for another model"
    workspace = Workspace()
    summary = workspace.load_model(weights, "cpu")
    assert workspace.attributes is None and summary.attribute_names == ()
    assert expected in summary.attribute_warning and "tiny" in summary.attribute_warning
    with pytest.raises(AttributeDirectionsError, match=expected):
        workspace.require_attributes()

    out = tmp_path / "out.png"
    code = main(["edit", "--index", "0", "-o", str(out), "--weights", weights, "--attribute", "smiling=1"])
    err = capsys.readouterr().err
    # One line for the error (a damaged or foreign file also gets its one-line warning before it).
    lines = err.splitlines()
    assert code == 2 and expected in lines[-1] and lines[-1].startswith("npe: ") and not out.exists()
    assert len(lines) == 1 or (len(lines) == 2 and lines[0].startswith("npe: warning: "))


# --- npe edit --attribute ------------------------------------------------------------------------------


def test_cli_attribute_applies_exactly_the_files_vectors(model, tmp_path, attributes):
    from npe.cli import build_command_parser
    from npe.commands.edit import edit_command
    from npe.editing.workspace import Workspace

    weights = save_with_attributes(model, tmp_path / "tiny", attributes)
    out = tmp_path / "out.png"
    workspace = Workspace()
    argv = ["edit", "--index", "2", "-o", str(out), "--weights", weights, "--crop-only",
            "--attribute", "smiling=2", "--attribute", "MALE=-1.5"]
    assert edit_command(build_command_parser().parse_args(argv), workspace) == 0
    session = workspace.session
    expected = moved_by_hand(session.latent0, weights, {"smiling": 2.0, "MALE": -1.5})
    np.testing.assert_allclose(session.latent, expected, atol=1e-6)
    assert not np.allclose(session.latent, session.latent0, atol=1e-3)
    assert session.history_labels == ["Smiling +2 σ, Male −1.5 σ"]
    with Image.open(out) as image:
        assert image.text["npe-edits"] == "Smiling +2 σ, Male −1.5 σ"
        assert np.array_equal(np.asarray(image), session.result_crop())


def test_cli_refuses_an_unknown_attribute_listing_the_known_ones(model, tmp_path, attributes, capsys):
    weights = save_with_attributes(model, tmp_path / "tiny", attributes)
    out = tmp_path / "out.png"
    code = main(["edit", "--index", "0", "-o", str(out), "--weights", weights, "--attribute", "smile=1"])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "Unknown attribute 'smile'" in err and "Smiling, Eyeglasses, Male" in err and err.count("\n") == 1
    code = main(["edit", "--index", "0", "-o", str(out), "--weights", weights, "--attribute", "smiling"])
    assert code == 2 and "NAME=VALUE" in capsys.readouterr().err
