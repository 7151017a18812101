"""The IAN: shapes at 64 and 128, every loss finite and differentiable, a few steps lower the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from npe.config import ConfigError, LossWeights, ModelConfig, TrainConfig, from_dict, to_dict
from npe.model import IAN, losses
from npe.model.blocks import MDConv


@pytest.mark.parametrize("resolution", [64, 128])
def test_shapes_at_default_sizes(resolution):
    config = ModelConfig(resolution=resolution)
    model = IAN(config).eval()
    images = torch.rand(2, 3, resolution, resolution) * 2 - 1
    latent = model.encode(images)
    assert latent.shape == (2, 100)
    decoded = model.decode(latent)
    assert decoded.shape == (2, 3, resolution, resolution)
    assert decoded.min() >= -1 and decoded.max() <= 1
    logits, features = model.discriminate(images)
    assert logits.shape == (2, 3)
    assert len(features) == config.num_stages
    assert features[-1].shape[-2:] == (4, 4)


def test_binary_ablation_has_one_logit(tiny_config):
    import dataclasses

    model = IAN(dataclasses.replace(tiny_config, ternary=False))
    logits, _ = model.discriminate(torch.zeros(3, 3, 32, 32))
    assert logits.shape == (3, 1)


def test_wrong_input_shapes_are_rejected(tiny_model):
    with pytest.raises(ValueError, match="N x 3 x 32 x 32"):
        tiny_model.encode(torch.zeros(1, 3, 64, 64))
    with pytest.raises(ValueError, match="N x 16"):
        tiny_model.decode(torch.zeros(1, 10))


def test_mdc_uses_several_dilations():
    torch.manual_seed(0)
    conv = MDConv(2, 2, (1, 2, 3))
    impulse = torch.zeros(1, 2, 15, 15)
    impulse[0, :, 7, 7] = 1
    response = conv(impulse).detach() - conv.bias.view(1, -1, 1, 1)
    # Dilation 3 reaches 3 pixels away from the impulse; a plain 3x3 conv reaches only 1.
    assert response[0, :, 7, 10].abs().sum() > 0
    assert response[0, :, 7, 12].abs().sum() == 0
    # Switching off the dilation-3 scale removes that reach.
    with torch.no_grad():
        conv.scales[2].zero_()
    assert (conv(impulse) - conv.bias.view(1, -1, 1, 1))[0, :, 7, 10].abs().sum() == 0


def test_mdc_switch_changes_the_generator(tiny_config):
    import dataclasses

    with_mdc = IAN(tiny_config)
    without = IAN(dataclasses.replace(tiny_config, mdc=False))
    assert any(isinstance(m, MDConv) for m in with_mdc.generator.modules())
    assert not any(isinstance(m, MDConv) for m in without.generator.modules())


def test_every_loss_is_finite_and_differentiable(tiny_model):
    model = tiny_model.train()
    images = torch.rand(4, 3, 32, 32) * 2 - 1
    mean, log_var, features_real = model.encode_distribution(images)
    latent = losses.reparameterise(mean, log_var)
    reconstructions = model.decode(latent)
    samples = model.decode(torch.randn(4, 16))
    logits_real, _ = model.discriminate(images)
    logits_rec, features_rec = model.discriminate(reconstructions)
    logits_gen, _ = model.discriminate(samples)
    terms = {
        "discriminator": losses.discriminator_loss(logits_real, logits_gen, logits_rec),
        "generator_adversarial": losses.generator_adversarial_loss(logits_gen, logits_rec),
        "pixel": losses.pixel_loss(images, reconstructions),
        "feature": losses.feature_loss(features_real, features_rec),
        "kl": losses.kl_loss(mean, log_var),
        "ortho": losses.orthogonal_regularisation(losses.conv_weights(model)),
    }
    for name, value in terms.items():
        assert value.ndim == 0 and torch.isfinite(value), name
        model.zero_grad()
        value.backward(retain_graph=True)
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads), name
        assert any(g.abs().sum() > 0 for g in grads), name


def test_ternary_loss_prefers_the_right_classes():
    right = torch.tensor([[5.0, 0, 0]]), torch.tensor([[0, 5.0, 0]]), torch.tensor([[0, 0, 5.0]])
    wrong = right[1], right[2], right[0]
    assert losses.discriminator_loss(*right) < 0.1 < losses.discriminator_loss(*wrong)


def test_orthogonal_regularisation_is_zero_for_orthonormal_filters():
    q, _ = torch.linalg.qr(torch.randn(9, 9))
    assert losses.orthogonal_regularisation([q.t().reshape(9, 1, 3, 3)]) < 1e-5
    assert losses.orthogonal_regularisation([torch.ones(4, 1, 3, 3)]) > 1


def test_feature_loss_is_zero_for_identical_features():
    features = [torch.randn(2, 4, 8, 8), torch.randn(2, 8, 4, 4)]
    assert losses.feature_loss(features, features) == 0
    assert losses.feature_loss(features, [f + 1 for f in features]) > 0


def test_config_json_round_trip_and_errors():
    config = ModelConfig(resolution=128, mdc=False)
    assert from_dict(ModelConfig, to_dict(config)) == config
    train = TrainConfig(losses=LossWeights(kl=0.5))
    assert from_dict(TrainConfig, to_dict(train)) == train
    with pytest.raises(ConfigError, match="unknown field"):
        from_dict(ModelConfig, {"resolutoin": 64})
    with pytest.raises(ConfigError, match="power of two"):
        ModelConfig(resolution=48)


def test_a_few_training_steps_lower_the_reconstruction_loss(tmp_path, tiny_config, faces32):
    from npe.train.loop import Trainer

    config = TrainConfig(batch_size=16, lr_generator=2e-3, lr_discriminator=2e-3, warmup_steps=1000, threads=1,
                         checkpoint_minutes=1e9, validate_minutes=1e9, log_every=10**9)
    # Validate on the training images: this checks learning (and the eval-mode path), not generalisation.
    trainer = Trainer(tiny_config, config, faces32, faces32, tmp_path, log=lambda message: None)
    initial_rgb = trainer.model.generator.to_rgb.weight.detach().clone()
    first = [trainer.train_step()["pixel"] for _ in range(3)]
    later = [trainer.train_step()["pixel"] for _ in range(60)]
    assert np.mean(later[-5:]) < 0.9 * np.mean(first)
    # The averaged (EMA) copy follows the trained weights.
    ema_weight, weight = trainer.ema.generator.to_rgb.weight, trainer.model.generator.to_rgb.weight
    assert (ema_weight - weight).abs().mean() < (initial_rgb - weight).abs().mean()


def test_adversarial_step_updates_discriminator(tmp_path, tiny_config, faces32):
    from npe.train.loop import Trainer

    config = TrainConfig(batch_size=8, warmup_steps=0, threads=1, log_every=10**9)
    trainer = Trainer(tiny_config, config, faces32[:40], faces32[40:], tmp_path, log=lambda message: None)
    head_before = [p.detach().clone() for p in trainer.model.classifier.parameters()]
    values = trainer.train_step()
    assert {"d", "g_adv", "pixel", "feature", "kl"} <= set(values)
    assert all(not torch.equal(a, b) for a, b in zip(head_before, trainer.model.classifier.parameters()))


def test_sampling_distribution_defaults_to_the_prior_and_fits_encoded_faces(tiny_model):
    noise = torch.randn(5, 16)
    assert torch.equal(tiny_model.latents_from_noise(noise), noise)  # N(0, I) until fitted
    generator = torch.Generator().manual_seed(0)
    scale = torch.linspace(0.1, 2.0, 16)
    encoded = torch.randn(4000, 16, generator=generator) * scale + 3.0
    tiny_model.fit_latent_distribution(encoded)
    samples = tiny_model.sample_latents(4000, torch.Generator().manual_seed(1))
    assert torch.allclose(samples.mean(0), torch.full((16,), 3.0), atol=0.1)
    assert torch.allclose(samples.std(0), scale, rtol=0.1)


def test_weights_without_a_sampling_distribution_still_load(tmp_path, tiny_model):
    from safetensors.torch import load_file, save_file

    from npe.model import load_weights, save_weights

    tiny_model.fit_latent_distribution(torch.randn(50, 16) * 0.5)
    tensors_path, _ = save_weights(tiny_model, tmp_path / "tiny")
    loaded = load_weights(tensors_path)
    assert torch.equal(loaded.latent_basis, tiny_model.latent_basis)
    tensors = load_file(str(tensors_path))
    del tensors["latent_mean"], tensors["latent_basis"]
    save_file(tensors, str(tensors_path))
    old = load_weights(tensors_path)
    assert torch.equal(old.latent_basis, torch.eye(16))
