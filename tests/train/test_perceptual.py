"""The perceptual term (npe.train.perceptual): EfficientNet-Lite0 rebuilt and loaded from the wheel's state
dict, a distance that is zero only for the same image, and the training step's use of it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data, transform

from npe.config import LossWeights, TrainConfig
from npe.errors import UserError
from npe.model import IAN
from npe.train import objective
from npe.train.loop import Trainer
from npe.train.perceptual import Lite0Features, PerceptualDistance, frechet_distance, lite0_weights_path, load_lite0


@pytest.fixture(scope="module")
def lite0():
    return load_lite0(layers=(0, 2, 4, 7, 15))


def _classify(network: Lite0Features, image: np.ndarray) -> list[int]:
    """ImageNet's top 3 for `image`: the network's last block, then the file's own head and classifier."""
    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    pixels = transform.resize(image, (224, 224), anti_aliasing=True).astype(np.float32) * 255
    x = (torch.from_numpy(pixels).permute(2, 0, 1)[None] - 127.0) / 128.0
    with torch.no_grad():
        last = network(x)[-1]
        head = F.conv2d(last, state["_conv_head.weight"])
        head = F.batch_norm(head, state["_bn1.running_mean"], state["_bn1.running_var"], state["_bn1.weight"], state["_bn1.bias"], eps=1e-3)
        logits = F.linear(F.relu6(head).mean(dim=(2, 3)), state["_fc.weight"], state["_fc.bias"])
    return logits[0].topk(3).indices.tolist()


def test_the_rebuilt_network_with_the_wheels_weights_sees_what_imagenet_taught_it(lite0):
    # A wrong block, padding, activation or key mapping would not name these: the cat is an Egyptian, tabby
    # or tiger cat (ImageNet 285, 281, 282), the cup an espresso (967).
    assert _classify(lite0, data.chelsea())[0] in (281, 282, 285)
    assert _classify(lite0, data.coffee())[0] == 967
    assert all(not p.requires_grad for p in lite0.parameters()) and not lite0.training


def test_a_file_that_is_not_lite0s_weights_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a state dict")
    with pytest.raises(UserError, match="cannot read"):
        load_lite0(broken)
    other = tmp_path / "other.pth"
    torch.save({"_conv_stem.weight": torch.zeros(8, 3, 3, 3)}, other)
    with pytest.raises(UserError, match="not EfficientNet-Lite0"):
        load_lite0(other)


def test_the_distance_is_zero_for_the_same_image_and_grows_with_a_blur(lite0):
    faces = torch.from_numpy(transform.resize(data.astronaut()[30:230, 150:350], (64, 64)).astype(np.float32)).permute(2, 0, 1)[None] * 2 - 1
    distance = PerceptualDistance(lite0)
    blurred = F.avg_pool2d(F.pad(faces, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    blurrier = F.avg_pool2d(F.pad(faces, (2, 2, 2, 2), mode="replicate"), 5, stride=1)
    same, slight, strong = (float(distance(image, faces)[0]) for image in (faces, blurred, blurrier))
    assert same == 0.0 and 0 < slight < strong


def test_only_the_images_get_gradients_and_the_borrowed_statistics_stay(lite0):
    distance = PerceptualDistance(lite0).train()
    before = {name: buffer.clone() for name, buffer in distance.named_buffers()}
    images = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_(True)
    targets = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_(True)
    distance(images, targets).sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    assert targets.grad is None  # the photos are constants
    assert not distance.network.training
    for name, buffer in distance.named_buffers():
        assert torch.equal(buffer, before[name]), name


def test_the_generator_step_adds_the_weighted_distance_of_each_reconstruction_from_its_photo(tiny_config, images, lite0):
    model = IAN(tiny_config).train()
    distance = PerceptualDistance(lite0)
    weights = dataclasses.replace(LossWeights(), perceptual=2.5)
    torch.manual_seed(3)
    plain = objective.generator_loss(model, images, weights, prior_count=0, adversarial_scale=None)
    torch.manual_seed(3)
    step = objective.generator_loss(model, images, weights, prior_count=0, adversarial_scale=None, perceptual=distance)
    expected = float(distance(step.reconstructions, images).mean().detach())
    assert "perceptual" not in plain.values and step.values["perceptual"] == pytest.approx(expected)
    assert float(step.total.detach()) == pytest.approx(float(plain.total.detach()) + 2.5 * expected, rel=1e-5)


def test_the_trainer_loads_the_borrowed_network_only_when_the_term_is_on(tmp_path, tiny_config, faces32):
    def trainer(weight: float) -> Trainer:
        config = TrainConfig(batch_size=8, warmup_steps=2, threads=1, losses=dataclasses.replace(LossWeights(), perceptual=weight))
        return Trainer(tiny_config, config, faces32[:40], faces32[40:], tmp_path / str(weight), log=lambda message: None)

    assert trainer(0.0).perceptual is None
    on = trainer(1.0)
    assert isinstance(on.perceptual, PerceptualDistance)
    assert "perceptual" in on.train_step()


def test_the_frechet_distance_matches_the_closed_form_for_gaussians():
    rng = np.random.default_rng(0)
    first = rng.normal(size=(20000, 4))
    second = rng.normal(size=(20000, 4)) * 2 + 1
    # |μ1 − μ2|² = 4; tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½) = 4 (1 + 4 − 2·2) = 4
    assert frechet_distance(first, second) == pytest.approx(8.0, rel=0.03)
    assert frechet_distance(second, first) == pytest.approx(frechet_distance(first, second))
    assert abs(frechet_distance(first, first)) < 1e-9
    with pytest.raises(ValueError):
        frechet_distance(first[:1], second)
