"""Per-photo inversion: refinement and tuning improve the reconstruction, can be cancelled, are
deterministic, leave the shared model alone, and the tuned state round-trips bit-exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from npe.editing.errors import SessionError
from npe.editing.inversion import InversionCancelled, InversionSettings, TunedGenerator, decode, invert, psnr
from tests.conftest import synthetic_faces

FAST = InversionSettings(latent_steps=10, tune_steps=30, tune_lr=3e-3)


@pytest.fixture
def crop() -> np.ndarray:
    return synthetic_faces(1, 32, seed=5)[0]


def _target(crop: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 127.5 - 1.0


def test_psnr_matches_closed_form():
    # Two images 0.2 apart on the [-1, 1] scale are 0.1 apart on the 0-1 scale: 20 dB.
    assert psnr(torch.full((1, 3, 4, 4), 0.2), torch.zeros(1, 3, 4, 4)) == pytest.approx(20.0)


def test_tuning_improves_the_reconstruction(model, crop):
    result = invert(model, crop, FAST)
    target = _target(crop)
    with torch.no_grad():
        encoder = psnr(model.decode(model.encode(target)), target)
        tuned = psnr(decode(model, torch.from_numpy(result.latent)[None], result.tuned), target)
    assert result.psnr_encoder == pytest.approx(encoder, abs=1e-4)
    assert result.psnr_latent >= encoder - 0.05
    assert tuned == pytest.approx(result.psnr_tuned, abs=1e-4)
    assert tuned > result.psnr_latent + 1.0


def test_shared_model_is_left_unchanged(model, crop):
    before = {name: value.clone() for name, value in model.state_dict().items()}
    invert(model, crop, FAST)
    after = model.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)


def test_inversion_is_deterministic(model, crop):
    first, second = invert(model, crop, FAST), invert(model, crop, FAST)
    assert np.array_equal(first.latent, second.latent)
    assert first.tuned.deltas.keys() == second.tuned.deltas.keys()
    assert all(torch.equal(first.tuned.deltas[k], second.tuned.deltas[k]) for k in first.tuned.deltas)


def test_only_the_late_stages_are_tuned_and_stored_as_fp16(model, crop):
    tuned = invert(model, crop, FAST).tuned
    assert tuned.deltas and all(name.startswith(FAST.prefixes) for name in tuned.deltas)
    assert not any(name.startswith("project") for name in tuned.deltas)
    assert all(delta.dtype == torch.float16 for delta in tuned.deltas.values())
    assert tuned.nbytes == 2 * sum(delta.numel() for delta in tuned.deltas.values())


def test_cancel_stops_the_inversion_and_progress_reaches_one(model, crop):
    calls = []
    with pytest.raises(InversionCancelled):
        invert(model, crop, FAST, cancelled=lambda: len(calls) >= 15, progress=lambda f, stage: calls.append((f, stage)))
    assert len(calls) == 15  # checked before every step: step 16 never ran
    fractions = []
    invert(model, crop, FAST, progress=lambda f, stage: fractions.append(f))
    assert len(fractions) == FAST.latent_steps + FAST.tune_steps
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)


def test_tuned_state_round_trips_bit_exact_through_a_session_file(model, crop, tmp_path):
    from npe.editing.sessionzip import read_session, write_session

    result = invert(model, crop, FAST)
    latent = torch.from_numpy(result.latent)[None]
    with torch.no_grad():
        painted_with = decode(model, latent, result.tuned)
    path = write_session(tmp_path / "tuned.npe", {"tuned": True}, result.tuned.to_arrays())
    _, arrays = read_session(path)
    reloaded = TunedGenerator.from_arrays(arrays, model)
    with torch.no_grad():
        again = decode(model, latent, reloaded)
    assert torch.equal(painted_with, again)


def test_tuned_state_for_another_model_is_refused(model, crop):
    arrays = invert(model, crop, FAST).tuned.to_arrays()
    key = next(iter(arrays))
    arrays[key] = np.zeros((3, 3), np.float16)
    with pytest.raises(SessionError):
        TunedGenerator.from_arrays(arrays, model)


def test_no_tuning_decodes_with_the_shared_generator(model):
    latent = torch.randn(1, model.config.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(decode(model, latent, TunedGenerator()), model.decode(latent))


def test_saved_tuning_that_does_not_fit_names_the_parameter(model):
    name, parameter = next(iter(model.generator.named_parameters()))
    fits = {f"tuned/{name}": np.zeros(tuple(parameter.shape), np.float16), "other/x": np.zeros(2, np.float32)}
    assert set(TunedGenerator.from_arrays(fits, model).deltas) == {name}  # other prefixes are not tuning
    for arrays in ({f"tuned/{name}": np.zeros(tuple(parameter.shape), np.float32)},  # not fp16
                   {f"tuned/{name}": np.zeros((1, *parameter.shape), np.float16)},  # another shape
                   {"tuned/no.such.parameter": np.zeros(2, np.float16)}):
        key = next(iter(arrays))
        with pytest.raises(SessionError, match=rf"The saved tuning \('{key[6:]}'\) does not fit this model"):
            TunedGenerator.from_arrays(arrays, model)


def test_step_counts_of_zero_are_allowed_and_negative_ones_refused():
    InversionSettings(latent_steps=0, tune_steps=0)
    for counts in ({"latent_steps": -1}, {"tune_steps": -1}):
        with pytest.raises(SessionError, match="step counts must be >= 0"):
            InversionSettings(**counts)


@pytest.mark.parametrize("fold", [True, False])
def test_the_editing_generator_is_anchored_decoding_folded_or_not(model, crop, fold):
    """The document decodes through EditingGenerator: the anchored decode of the tuned photo, with the
    MDC blocks folded or not -- the same image and the same gradient to z, up to float rounding."""
    from npe.editing.inversion import EditingGenerator, anchor_for, anchored_decode
    from npe.model.blocks import FrozenMDConv, MDConv

    assert any(isinstance(module, MDConv) for module in model.generator.modules())
    result = invert(model, crop, FAST)
    latent0 = torch.from_numpy(result.latent)[None]
    for anchor in (anchor_for(model, latent0, result.tuned), None):
        fast = EditingGenerator(model, anchor, fold=fold)
        assert any(isinstance(module, FrozenMDConv) for module in fast.modules()) is not fold
        assert not any(isinstance(module, MDConv) for module in fast.modules())
        latent = (latent0 + 0.3 * torch.randn(latent0.shape, generator=torch.Generator().manual_seed(1))).requires_grad_(True)
        reference = anchored_decode(model, latent, anchor)
        (reference_grad,) = torch.autograd.grad(reference.square().mean(), latent)
        image = fast(latent)
        (grad,) = torch.autograd.grad(image.square().mean(), latent)
        assert torch.allclose(image, reference, atol=1e-5)
        assert torch.allclose(grad, reference_grad, rtol=1e-3, atol=1e-7)
    assert anchor_for(model, latent0, result.tuned) is not None
    # The shared model keeps its MDC blocks and its untuned weights.
    assert any(isinstance(module, MDConv) for module in model.generator.modules())
    with torch.no_grad():
        assert not torch.allclose(EditingGenerator(model, anchor_for(model, latent0, result.tuned))(latent0), model.decode(latent0), atol=1e-3)


@pytest.mark.parametrize(("cores", "folded"), [(2, False), (3, False), (4, True), (16, True)])
def test_the_editor_folds_only_where_the_brush_runs_on_two_threads_or_more(model, monkeypatch, cores, folded):
    """One brush thread (2-3 cores: half of them) is faster with a 3x3 pass per dilation, two or more folded; the choice
    follows the core count, so a machine renders a session the same way every time."""
    from npe.editing.inversion import EditingGenerator, folding_pays
    from npe.model.blocks import FrozenMDConv

    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert folding_pays("cpu") is folded and folding_pays("cuda")
    generator = EditingGenerator(model, None)
    assert any(isinstance(module, FrozenMDConv) for module in generator.modules()) is not folded
