"""Named attribute directions: fitting, conditioning, the file, applying edits (npe.editing.attributes/directions)."""

from __future__ import annotations

import numpy as np
import pytest

from npe.editing.attributes import (
    AttributeDirections,
    AttributeDirectionsError,
    UnknownAttributeError,
    apply_attributes,
    display_name,
    fit_attribute_directions,
    logistic_normal,
    model_identifier,
    parse_attribute_values,
    project_out,
    read_celeba_attributes,
)
from npe.editing.directions import (
    DirectionsError,
    find_attributes,
    find_directions,
    load_attributes,
    load_directions,
    principal_directions,
    save_directions,
)
from npe.errors import UserError


def hand_directions(model_id: str = "abc") -> AttributeDirections:
    """Three attributes in a 4-d latent with hand-picked unit vectors and scales."""
    vectors = np.array([[1, 0, 0, 0], [0, 0.6, 0.8, 0], [0, 0, 0, 1]], np.float32)
    return AttributeDirections(
        ("Smiling", "Eyeglasses", "Male"), vectors, np.array([0.5, 2.0, 1.25]), np.eye(3, 4), np.zeros(3), model_id
    )


def correlated_codes(latent_dim: int = 16, count: int = 3000, seed: int = 0):
    """Codes from N(m, B B^T) with three labels made by linear rules on the whitened coordinates;
    Smiling's rule shares a component with Male's, so a raw Smiling normal leans towards Male."""
    rng = np.random.default_rng(seed)
    mean = rng.normal(size=latent_dim)
    basis = rng.normal(size=(latent_dim, latent_dim)) * 0.3 + np.eye(latent_dim)
    noise = rng.normal(size=(count, latent_dim))
    latents = mean + noise @ basis.T
    labels = np.stack(
        [noise[:, 0] + 0.8 * noise[:, 2] > 0.1, noise[:, 1] > 1.2, noise[:, 2] - 0.3 * noise[:, 3] > -0.2], axis=1
    )
    return latents, labels, mean, basis


def test_apply_adds_exactly_value_times_scale_times_direction():
    directions = hand_directions()
    z = np.array([0.1, -0.2, 0.3, 0.4], np.float32)
    # By hand: Smiling is (1,0,0,0) with scale 0.5 -> +2 std adds (1, 0, 0, 0).
    assert np.allclose(apply_attributes(z, directions, {"smiling": 2}), [1.1, -0.2, 0.3, 0.4], atol=1e-6)
    # Eyeglasses (0, .6, .8, 0) scale 2 at -1.5 std adds (0, -1.8, -2.4, 0); Male +1 adds (0, 0, 0, 1.25).
    both = apply_attributes(z, directions, {"EYEGLASSES": -1.5, "Male": 1})
    assert np.allclose(both, [0.1, -2.0, -2.1, 1.65], atol=1e-6)
    assert np.allclose(apply_attributes(both, directions, {"eyeglasses": 1.5, "male": -1}), z, atol=1e-6)
    batch = apply_attributes(np.zeros((2, 4)), directions, {"Smiling": 1})
    assert np.allclose(batch, [[0.5, 0, 0, 0]] * 2)
    assert directions.canonical("mALE") == "Male"


def test_unknown_attribute_is_refused_with_the_known_names():
    directions = hand_directions()
    with pytest.raises(UnknownAttributeError, match="'Beard'.*Known attributes: Smiling, Eyeglasses, Male") as caught:
        apply_attributes(np.zeros(4), directions, {"Beard": 1})
    assert isinstance(caught.value, UserError)
    with pytest.raises(UserError, match="finite"):
        directions.offset({"Smiling": float("nan")})
    with pytest.raises(AttributeDirectionsError, match="4 latents"):
        apply_attributes(np.zeros(5), directions, {"Smiling": 1})


def test_parse_attribute_values():
    assert parse_attribute_values(["smiling=2", " Male = -1.5"]) == {"smiling": 2.0, "Male": -1.5}
    for bad in ("smiling", "=2", "smiling=lots", "smiling=inf"):
        with pytest.raises(UserError, match="NAME=VALUE"):
            parse_attribute_values([bad])
    with pytest.raises(UserError, match="given twice"):
        parse_attribute_values(["smiling=1", "SMILING=2"])


def test_record_checks_its_arrays():
    with pytest.raises(AttributeDirectionsError, match="inconsistent"):
        AttributeDirections(("A", "B"), np.zeros((2, 3)), np.ones(1), np.zeros((2, 3)), np.zeros(2), "x")
    with pytest.raises(AttributeDirectionsError, match="repeat"):
        AttributeDirections(("Male", "male"), np.eye(2), np.ones(2), np.eye(2), np.zeros(2), "x")
    with pytest.raises(AttributeDirectionsError, match="non-positive"):
        AttributeDirections(("A",), np.eye(1), np.zeros(1), np.eye(1), np.zeros(1), "x")


def test_project_out_hand_case():
    assert np.allclose(project_out([1.0, 1.0, 0.0], [[2.0, 0.0, 0.0]]), [0, 1, 0])
    assert np.allclose(project_out([1.0, 2.0, 3.0], [[1.0, 0, 0], [1.0, 1.0, 0]]), [0, 0, 3])
    assert np.allclose(project_out([1.0, 2.0], np.zeros((0, 2))), [1, 2])


def test_logistic_normal_recovers_the_generating_rule():
    rng = np.random.default_rng(5)
    features = rng.normal(size=(4000, 5))
    truth = np.array([2.0, -1.0, 0.0, 0.5, 0.0])
    labels = rng.random(4000) < 1 / (1 + np.exp(-(features @ truth - 0.7)))
    weights, bias = logistic_normal(features, labels, l2=1e-4)
    cosine = weights @ truth / np.linalg.norm(weights) / np.linalg.norm(truth)
    assert cosine > 0.98
    # Classes are reweighted to equal mass, so the bias is not the generating one, but its sign is.
    assert bias < 0
    with pytest.raises(AttributeDirectionsError, match="both present and absent"):
        logistic_normal(features, np.zeros(4000, bool))


def test_fitted_directions_are_conditional_scaled_and_read_by_their_normals():
    latents, labels, mean, basis = correlated_codes()
    names = ("Smiling", "Eyeglasses", "Male")
    conditions = {"Smiling": ("Male", "Eyeglasses"), "Eyeglasses": ("Male",)}
    fitted = fit_attribute_directions(latents, labels, names, mean, basis, "id", conditions)
    raw = fit_attribute_directions(latents, labels, names, mean, basis, "id", {})
    assert np.allclose(np.linalg.norm(fitted.vectors, axis=1), 1, atol=1e-5)
    # Logit change of attribute j per std moved along attribute i's direction.
    def effect(directions):
        return (directions.scales[:, None] * directions.vectors) @ directions.normals.T

    conditional, unconditional = effect(fitted), effect(raw)
    # Conditional: moving along Smiling leaves the Male and Eyeglasses classifiers' logits unchanged...
    for edited, kept in ((0, 2), (0, 1), (1, 2)):
        assert abs(conditional[edited, kept]) < 1e-4 * conditional[kept, kept]
    # ...which the raw normal does not (the labels share a component), so the test can fail.
    assert abs(unconditional[0, 2]) > 0.3 * unconditional[2, 2]
    assert conditional[0, 0] > 0.5 * unconditional[0, 0]  # and Smiling still moves Smiling
    # Male is not conditioned: it is the raw direction.
    assert np.allclose(fitted.vectors[2], raw.vectors[2], atol=1e-6)
    # Scale: the standard deviation of the training codes along each direction.
    for row in range(3):
        assert fitted.scales[row] == pytest.approx(np.std(latents @ fitted.vectors[row].astype(np.float64), ddof=1), rel=1e-4)
    # The stored normals are the classifiers in z: their logits sort the training labels well.
    accuracy = ((fitted.scores(latents) > 0) == labels).mean(axis=0)
    assert (accuracy > 0.9).all()
    # +2 std along Smiling raises its logit.
    moved = apply_attributes(latents[:50], fitted, {"Smiling": 2})
    assert (fitted.scores(moved)[:, 0] > fitted.scores(latents[:50].astype(np.float32))[:, 0]).all()


def test_default_conditions_cover_attributes_outside_the_table():
    latents, labels, mean, basis = correlated_codes()
    fitted = fit_attribute_directions(latents, labels, ("Bald", "Eyeglasses", "Male"), mean, basis, "id")
    effect = (fitted.scales[:, None] * fitted.vectors) @ fitted.normals.T
    # Bald is not in DEFAULT_CONDITIONS: it still leaves Male and Eyeglasses alone; Eyeglasses
    # (conditioned on Male by the table) too.
    for edited, kept in ((0, 2), (0, 1), (1, 2)):
        assert abs(effect[edited, kept]) < 1e-4 * effect[kept, kept]


def test_directions_file_round_trip_with_attributes(model, tmp_path):
    latents, labels, _, _ = correlated_codes()
    attributes = fit_attribute_directions(
        latents, labels, ("Smiling", "Eyeglasses", "Male"), np.zeros(16), np.eye(16), model_identifier(model)
    )
    principal = principal_directions(latents, 4)
    path = save_directions(principal, tmp_path / "tiny.directions.safetensors", {"images": "3000"}, attributes)
    loaded = load_attributes(path, model)
    assert loaded.names == ("Smiling", "Eyeglasses", "Male") and loaded.model_id == attributes.model_id
    for field in ("vectors", "scales", "normals", "biases"):
        assert np.array_equal(getattr(loaded, field), getattr(attributes, field))
    assert np.array_equal(load_directions(path, 16).components, principal.components)  # PCA still there
    assert np.array_equal(find_attributes(model, tmp_path / "tiny.safetensors").vectors, attributes.vectors)
    assert len(find_directions(model, tmp_path / "tiny.safetensors")) == 4


def test_old_directions_file_loads_without_attributes(model, tmp_path):
    path = save_directions(principal_directions(np.random.default_rng(1).normal(size=(40, 16)), 3), tmp_path / "old.directions.safetensors")
    assert len(load_directions(path, 16)) == 3
    with pytest.raises(AttributeDirectionsError, match="has no attribute directions"):
        load_attributes(path, model)
    with pytest.raises(AttributeDirectionsError, match="No directions file"):
        find_attributes(model, tmp_path / "missing.safetensors")


def test_directions_made_for_another_model_are_refused(model, tmp_config_model, tmp_path):
    other = tmp_config_model
    assert model_identifier(other) != model_identifier(model)
    latents, labels, _, _ = correlated_codes()
    attributes = fit_attribute_directions(latents, labels, ("Smiling", "Eyeglasses", "Male"), np.zeros(16), np.eye(16), model_identifier(other))
    path = save_directions(principal_directions(latents, 3), tmp_path / "tiny.directions.safetensors", attributes=attributes)
    with pytest.raises(AttributeDirectionsError, match="made for another model"):
        load_attributes(path, model)
    with pytest.raises(AttributeDirectionsError, match="made for another model"):
        find_attributes(model, tmp_path / "tiny.safetensors")
    with pytest.raises(DirectionsError, match="made for another model"):
        load_directions(path, 16, model_identifier(model))
    # The editor's look-up ignores the other model's principal directions too.
    assert find_directions(model, tmp_path / "tiny.safetensors") is None
    assert len(find_directions(other, tmp_path / "tiny.safetensors")) == 3


def test_model_identifier_follows_the_weights(model):
    import torch

    before = model_identifier(model)
    assert model_identifier(model) == before
    with torch.no_grad():
        next(model.generator.parameters()).view(-1)[0] += 1e-3
    assert model_identifier(model) != before


@pytest.fixture
def tmp_config_model(tiny_config):
    import torch

    from npe.model import IAN

    torch.manual_seed(123)
    return IAN(tiny_config).eval()


def write_labels(path, files, names, table):
    lines = [str(len(files)), " ".join(names)]
    lines += [f"{name} " + " ".join(" 1" if value else "-1" for value in row) for name, row in zip(files, table)]
    path.write_text("\n".join(lines) + "\n")


def test_read_celeba_attributes(tmp_path):
    path = tmp_path / "list_attr.txt"
    path.write_text("2\nBangs Male Smiling\n000001.jpg -1  1  1\n000002.jpg  1 -1 -1\n")
    labels = read_celeba_attributes(path)
    assert labels.names == ("Bangs", "Male", "Smiling") and labels.files == ("000001.jpg", "000002.jpg")
    picked = labels.for_images(["img_align_celeba/000002.jpg", "img_align_celeba/000001.jpg"], ["Smiling", "Bangs"])
    assert picked.tolist() == [[False, True], [True, False]]
    with pytest.raises(UnknownAttributeError, match="Beard"):
        labels.for_images(["000001.jpg"], ["Beard"])
    with pytest.raises(AttributeDirectionsError, match="no labels"):
        labels.for_images(["000003.jpg"], ["Bangs"])
    (tmp_path / "bad.txt").write_text("3\nA B\n000001.jpg 1 -1\n")
    with pytest.raises(AttributeDirectionsError, match="list_attr format"):
        read_celeba_attributes(tmp_path / "bad.txt")


def test_display_names_read_as_words():
    assert display_name("Mouth_Slightly_Open") == "Mouth slightly open"


@pytest.mark.shipped
def test_the_bundled_model_ships_attribute_directions_made_for_it():
    from npe.model import WeightsError, load_default

    try:
        shipped = load_default()
    except WeightsError as exc:
        pytest.skip(f"no bundled model: {exc}")
    attributes = find_attributes(shipped)
    assert {"Smiling", "Eyeglasses", "Bangs", "Male", "Mouth_Slightly_Open", "Young"} <= set(attributes.names)
    assert attributes.latent_dim == shipped.config.latent_dim and (attributes.scales > 0).all()
    z = shipped.sample_latents(4, generator=__import__("torch").Generator().manual_seed(0)).numpy()
    smiling = attributes.index("smiling")
    assert (attributes.scores(apply_attributes(z, attributes, {"smiling": 2}))[:, smiling] > attributes.scores(z)[:, smiling]).all()
