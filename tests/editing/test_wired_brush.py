"""The brush through the real session: the local brush's reach on an opened photo, grey photos
staying grey, per-photo fitting (saved bit-exact, cancellable), and `npe edit --no-tune/--reach`."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from npe.editing import EditSession
from npe.editing.brush import BrushSettings
from npe.editing.brush.objective import PixelObjective, SemanticObjective
from npe.editing.inversion import InversionSettings
from npe.editing.sources import Fitting

QUICK = InversionSettings(latent_steps=3, tune_steps=6)  # a tiny model fits in a few steps
MOUTH = [(90.0, 85.0), (100.0, 85.0), (110.0, 85.0)]  # photo pixels, inside the 80 px box at (100, 70)


def _far_from(points, distance: float, shape) -> np.ndarray:
    """bool H x W: photo pixels whose centre is more than ``distance`` photo px from every point."""
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]] + 0.5
    near = np.min([np.hypot(xs - x, ys - y) for x, y in points], axis=0)
    return near > distance


def test_pixels_beyond_the_reach_keep_the_photo(model, photo, box):
    session = EditSession.from_photo(model, photo, box=box, tune=QUICK)
    assert session.paint(MOUTH, color=(255, 255, 255), radius=6, strength=4.0, steps=2)
    changed = np.abs(session.result().astype(int) - photo.astype(int)).max(axis=2)
    assert changed.max() >= 8  # the stroke did something visible
    # Brush 6 photo px + the reach a strong change may take (spread 12 > reach 4) and the feather
    # 6 crop px (80 px box / R crop px), plus the paste-back's cubic spline (about 2 photo px).
    px = 80 / session.resolution
    objective = SemanticObjective()
    beyond = _far_from(MOUTH, 6 + (max(objective.reach, objective.spread) + objective.feather) * px + 2, photo.shape)
    assert changed[beyond].max() <= 1


def test_pixel_objective_stops_at_the_reach(model, photo, box):
    """The old brush ("pixel") has no spread: its change stops at reach + feather."""
    session = EditSession.from_photo(model, photo, box=box, tune=QUICK)
    assert session.paint(MOUTH, color=(255, 255, 255), radius=6, strength=4.0, steps=2, objective="pixel")
    changed = np.abs(session.result().astype(int) - photo.astype(int)).max(axis=2)
    assert changed.max() >= 8
    px = 80 / session.resolution
    beyond = _far_from(MOUTH, 6 + (4 + 6) * px + 2, photo.shape)
    assert changed[beyond].max() <= 1


@pytest.mark.parametrize(("objective", "narrow", "factor"), [("pixel", 0.0, 1.5), ("semantic", 12.0, 1.0)])
def test_a_wider_reach_lets_the_change_spread_further(model, photo, box, objective, narrow, factor):
    """The semantic brush's strong changes may take a reach of ``spread`` (12) whatever the setting,
    so its narrow case is 12; a wider reach frees the change rather than asking for it (on this tiny
    random model: 10% more pixels), so it only has to spread further."""

    def spread(reach: float) -> int:
        session = EditSession.from_photo(model, photo, box=box)
        session.paint(MOUTH, color=(255, 255, 255), radius=6, strength=4.0, steps=2, reach=reach, objective=objective)
        changed = np.abs(session.result().astype(int) - photo.astype(int)).max(axis=2) > 2
        return int(changed.sum())

    assert spread(narrow + 16.0) > factor * spread(narrow)


def test_sliders_change_the_photo_everywhere_and_undo_restores_the_limit(session, photo):
    session.paint(MOUTH, color=(255, 255, 255), radius=6, strength=4.0)
    painted = np.array(session.result())
    session.set_latent_value(0, float(session.latent[0]) + 3.0)
    far = _far_from(MOUTH, 40, photo.shape)
    x0, y0, x1, y1 = session.editable_rect
    inside_far = far.copy()
    inside_far[:y0], inside_far[y1:], inside_far[:, :x0], inside_far[:, x1:] = False, False, False, False
    assert np.abs(session.result().astype(int) - photo.astype(int))[inside_far].max() > 4  # a latent edit is not limited
    session.undo()
    np.testing.assert_array_equal(session.result(), painted)  # the stroke's limit is back, bit for bit
    session.redo()
    session.undo()
    np.testing.assert_array_equal(session.result(), painted)


def _grey(photo: np.ndarray) -> np.ndarray:
    return np.repeat(photo.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)


@pytest.mark.parametrize("kind", ["rgb", "16-bit", "LA", "1-bit"])
def test_a_grey_photo_stays_grey_after_a_colour_stroke(model, photo, box, tmp_path, kind):
    grey = _grey(photo)
    path = tmp_path / f"grey-{kind}.png"
    if kind == "rgb":
        Image.fromarray(grey).save(path)
    elif kind == "16-bit":
        Image.fromarray((grey[..., 0].astype(np.uint16) * 257)).save(path)
    elif kind == "LA":
        Image.fromarray(np.dstack([grey[..., 0], np.full(grey.shape[:2], 255, np.uint8)]), mode="LA").save(path)
    else:
        Image.fromarray(grey[..., 0] > 110).save(path)
    session = EditSession.from_photo(model, path, box=box, tune=QUICK)
    for colour in [(255, 0, 0), (0, 80, 255)]:
        session.paint(MOUTH, color=colour, radius=8, strength=4.0, steps=2)
    out = tmp_path / "out.png"
    session.export_png(out)
    # Read as npe reads photos: the 16-bit export stays 16-bit grey (exports keep the file's depth), which Pillow's own
    # convert("RGB") would clip to white.
    from npe.data.image_io import load_image

    result = load_image(out)
    assert (result != load_image(path)).any()  # the strokes changed it
    assert (result[..., 0] == result[..., 1]).all() and (result[..., 1] == result[..., 2]).all()


def test_a_tuned_session_reopens_bit_exact(model, photo, box, tmp_path):
    untuned = EditSession.from_photo(model, photo, box=box)
    session = EditSession.from_photo(model, photo, box=box, tune=QUICK)
    # The fitting changed the reconstruction toward the crop.
    error = lambda s: np.abs(s.reconstruction.astype(int) - s.crop.astype(int)).mean()  # noqa: E731
    assert error(session) < error(untuned)
    session.paint(MOUTH, color=(255, 255, 255), radius=6, strength=4.0)
    session.lighten(100.0, 60.0, -0.3, 8.0)
    session.commit()
    session.paint(MOUTH, color=(0, 0, 0), radius=6, strength=4.0)
    path = session.save(tmp_path / "tuned.npe")
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read("session.json"))["source"]["tuned"]  # stored, as fp16 arrays
    reopened = EditSession.load(path, model)
    np.testing.assert_array_equal(reopened.reconstruction, session.reconstruction)
    np.testing.assert_array_equal(reopened.generated, session.generated)
    np.testing.assert_array_equal(reopened.result(), session.result())
    for s in (session, reopened):
        s.undo()
        s.undo()
    np.testing.assert_array_equal(reopened.result(), session.result())
    # And painting on goes through the same tuned generator.
    for s in (session, reopened):
        s.redo()
        s.redo()
        s.paint(MOUTH, color=(255, 255, 255), radius=6, strength=4.0)
    np.testing.assert_array_equal(reopened.result(), session.result())


def test_an_old_session_file_without_tuning_or_limits_opens(model, photo, box, tmp_path):
    session = EditSession.from_photo(model, photo, box=box)
    session.set_latent_value(1, 2.0)
    path = session.save(tmp_path / "new.npe")
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["session.json"])
    del manifest["source"]["tuned"], manifest["source"]["limit"]
    for record in manifest["history"]["records"]:
        record.pop("limit_before", None), record.pop("limit_after", None)
    members["session.json"] = json.dumps(manifest).encode()
    old = tmp_path / "old.npe"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    old.write_bytes(buffer.getvalue())
    reopened = EditSession.load(old, model)
    np.testing.assert_array_equal(reopened.result(), session.result())  # a latent edit shows everywhere, as before
    reopened.undo()
    np.testing.assert_array_equal(reopened.result(), photo)


def test_the_fitting_reports_progress_and_can_be_cancelled(model, photo, box):
    seen: list[float] = []
    fitting = Fitting(QUICK, progress=lambda fraction, stage: seen.append(fraction), cancelled=lambda: len(seen) >= 4)
    session = EditSession.from_photo(model, photo, box=box, tune=fitting)
    assert fitting.was_cancelled and seen == pytest.approx([k / 9 for k in range(1, 5)])
    untuned = EditSession.from_photo(model, photo, box=box)
    np.testing.assert_array_equal(session.latent0, untuned.latent0)  # the encoder's z: the photo still opens
    np.testing.assert_array_equal(session.reconstruction, untuned.reconstruction)
    assert session.paint(MOUTH, color=(255, 255, 255), radius=6, strength=4.0)


def test_samples_need_no_fitting_and_keep_strokes_within_their_reach(model):
    """A stroke on a generated face is masked as on a photo (a strong change under the brush is
    shown as made) and changes nothing beyond its reach; a slider (a latent change that is not a
    stroke) may change everything. The pixel objective: its strong change saturates the mask."""
    session = EditSession.random(model, seed=3)
    assert session.document.tuned is None
    session.paint([(8.0, 8.0), (12.0, 8.0)], color=(0, 0, 0), radius=3, strength=4.0, objective="pixel")
    mask = session.change_mask()
    resolution = mask.shape[0]
    centres = np.arange(resolution) + 0.5
    distance = np.hypot(centres[None, :] - np.clip(centres[None, :], 8.0, 12.0), centres[:, None] - 8.0)
    reach = 3 + BrushSettings().reach + PixelObjective().feather  # brush radius, reach, the feather
    assert mask[distance <= 3].min() == 1.0  # under the brush: the change is shown as made
    assert mask[distance > reach + 1].max() == 0.0  # beyond the reach: nothing changes
    latent = session.latent.copy()
    latent[0] += 1.0
    session.set_latent(latent)
    np.testing.assert_array_equal(session.change_mask(), np.ones_like(session.change_mask()))


def test_npe_edit_tunes_by_default_and_no_tune_skips_it(model, astronaut_path, tmp_path, capsys):
    from npe.cli import main
    from npe.model import save_weights

    weights, _ = save_weights(model, tmp_path / "tiny")
    results = {}
    for flags in ([], ["--no-tune"], ["--no-tune", "--reach", "16"]):
        out = tmp_path / f"out{len(results)}.png"
        argv = ["edit", str(astronaut_path), "-o", str(out), "--weights", str(weights), "--stroke", "230,170,260,170", "--radius", "12", *flags]
        assert main(argv) == 0, capsys.readouterr().err
        with Image.open(out) as image:
            results[" ".join(flags)] = np.asarray(image).astype(int)
    original = np.asarray(Image.open(astronaut_path)).astype(int)
    for result in results.values():
        assert (result != original).any()  # each run painted something
    assert (results[""] != results["--no-tune"]).any()  # the fitted model paints differently
    spread = {flags: int((np.abs(result - original).max(axis=2) > 2).sum()) for flags, result in results.items()}
    assert spread["--no-tune --reach 16"] > spread["--no-tune"]
    assert main(["edit", str(astronaut_path), "-o", str(tmp_path / "x.png"), "--weights", str(weights), "--reach", "-1"]) == 2
    assert "--reach" in capsys.readouterr().err


def test_a_tuned_photo_shows_its_tuned_face_and_changes_by_the_shared_stages(model, photo, box):
    import torch

    from npe.editing.inversion import ANCHOR_TUNED_PREFIXES, TunedGenerator, decode

    session = EditSession.from_photo(model, photo, box=box, tune=QUICK)
    document = session.document
    tuned = TunedGenerator.from_arrays(document.tuned_arrays, model, prefix="")
    colour = TunedGenerator({name: delta for name, delta in tuned.deltas.items() if name.startswith(ANCHOR_TUNED_PREFIXES)})
    assert colour.deltas and len(colour.deltas) < len(tuned.deltas)  # some tuned stages are left out of changes
    assert not any(name.startswith("stages.2.") for name in colour.deltas)
    latent0 = torch.from_numpy(np.array(document.latent0, np.float32))[None]
    with torch.no_grad():
        tuned_face = decode(model, latent0, tuned)
        assert (tuned_face - model.decode(latent0)).abs().max() > 0.01  # the tuning did something
        # At z0 the editor shows the tuned face (what the brush's colour term judges) ...
        torch.testing.assert_close(document.recon, tuned_face, atol=1e-5, rtol=0)
        # ... and any z differs from it as the generator with only its colour layer tuned differs.
        moved = latent0 + 0.5 * torch.randn(latent0.shape, generator=torch.Generator().manual_seed(3))
        expected = decode(model, moved, colour) - decode(model, latent0, colour)
        torch.testing.assert_close(document.decode(moved) - document.recon, expected, atol=1e-5, rtol=0)
        assert (document.decode(moved) - decode(model, moved, tuned)).abs().max() > 1e-3  # not the tuned stages'
    session.paint(MOUTH, color=(255, 255, 255), radius=6, strength=4.0)
    with torch.no_grad():
        expected = decode(model, document.z, colour) - decode(model, latent0, colour)
        torch.testing.assert_close(document.generated - document.recon, expected, atol=1e-5, rtol=0)
