"""MTCNN (Zhang et al. 2016): a three-stage face detector with five landmarks, run with torch.

The networks are small (2 MB of weights, shipped in models/mtcnn-face-detector.safetensors). The
weights come from facenet-pytorch 2.6.0 (MIT licence, see models/MTCNN_LICENSE.md), which ported
them from the authors' release; the architecture is written here so npe needs no new dependency.
Conventions follow that release (they matter for the weights): RGB input scaled as
(x - 127.5) / 128, boxes in inclusive integer pixel indices, landmarks as x1..x5 then y1..y5.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import nn
from torch.nn import functional

_THRESHOLDS = (0.6, 0.7, 0.7)  # face probability each stage needs (the release's defaults)
_PYRAMID_FACTOR = 0.709  # scale step between pyramid levels (the release's default)
_CELL = 12  # PNet's receptive field, and the smallest face it sees at one pyramid level
_STRIDE = 2


class _PNet(nn.Module):
    """Proposal network: fully convolutional, a face probability per 12x12 cell."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1, self.conv4_2 = nn.Conv2d(32, 2, 1), nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = functional.max_pool2d(self.prelu1(self.conv1(x)), 2, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return functional.softmax(self.conv4_1(x), dim=1)[:, 1], self.conv4_2(x)


class _RNet(nn.Module):
    """Refinement network on 24x24 crops."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1, self.dense5_2 = nn.Linear(128, 2), nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = functional.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = functional.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(x)).permute(0, 3, 2, 1).reshape(x.shape[0], -1)  # the release's flatten order
        x = self.prelu4(self.dense4(x))
        return functional.softmax(self.dense5_1(x), dim=1)[:, 1], self.dense5_2(x)


class _ONet(nn.Module):
    """Output network on 48x48 crops: probability, box regression and five landmarks."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1, self.dense6_2, self.dense6_3 = nn.Linear(256, 2), nn.Linear(256, 4), nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = functional.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = functional.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = functional.max_pool2d(self.prelu3(self.conv3(x)), 2, 2, ceil_mode=True)
        x = self.prelu4(self.conv4(x)).permute(0, 3, 2, 1).reshape(x.shape[0], -1)
        x = self.prelu5(self.dense5(x))
        return functional.softmax(self.dense6_1(x), dim=1)[:, 1], self.dense6_2(x), self.dense6_3(x)


@lru_cache(maxsize=1)
def _networks() -> tuple[_PNet, _RNet, _ONet]:
    from safetensors.torch import load_file

    from npe.resources import models_dir

    path = models_dir() / "mtcnn-face-detector.safetensors"
    tensors = load_file(str(path))
    nets = (_PNet(), _RNet(), _ONet())
    for prefix, net in zip(("pnet", "rnet", "onet"), nets):
        state = {key[len(prefix) + 1 :]: value for key, value in tensors.items() if key.startswith(prefix + ".")}
        net.load_state_dict(state, strict=True)
        net.eval().requires_grad_(False)
    return nets


@dataclass(frozen=True)
class Detection:
    """One face: its box (x0, y0, x1, y1, continuous photo pixels), probability and landmarks.

    ``landmarks`` is 5x2 (x, y): the eye on the image's left, the other eye, the nose tip, the
    mouth corner on the image's left, the other mouth corner.
    """

    box: tuple[float, float, float, float]
    probability: float
    landmarks: np.ndarray


def detect(photo: np.ndarray, min_face: float = 20.0) -> list[Detection]:
    """Every face of at least ``min_face`` px in a uint8 HxWx3 RGB photo, most probable first."""
    pnet, rnet, onet = _networks()
    with torch.inference_mode():
        image = (torch.tensor(photo, dtype=torch.float32).permute(2, 0, 1)[None] - 127.5) * 0.0078125
        boxes = _proposals(pnet, image, min_face)
        if len(boxes) == 0:
            return []
        boxes = _square(boxes)
        probability, regression = rnet(_patches(image, boxes, 24))
        keep = probability.numpy() > _THRESHOLDS[1]
        boxes = np.column_stack([boxes[keep, :4], probability.numpy()[keep]])
        regression = regression.numpy()[keep]
        picked = _nms(boxes, 0.7, "union")
        boxes = _square(_regress(boxes[picked], regression[picked]))
        if len(boxes) == 0:
            return []
        probability, regression, points = onet(_patches(image, boxes, 48))
        keep = probability.numpy() > _THRESHOLDS[2]
        boxes = np.column_stack([boxes[keep, :4], probability.numpy()[keep]])
        regression, points = regression.numpy()[keep], points.numpy()[keep]
    sides = (boxes[:, 2] - boxes[:, 0] + 1)[:, None], (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    # Landmarks in the release's pixel indices; + 0.5 turns an index into a continuous coordinate.
    xs = sides[0] * points[:, :5] + boxes[:, 0:1] - 1 + 0.5
    ys = sides[1] * points[:, 5:] + boxes[:, 1:2] - 1 + 0.5
    boxes = _regress(boxes, regression)
    picked = _nms(boxes, 0.7, "min")
    found = [
        Detection(
            (float(boxes[i, 0]) - 1, float(boxes[i, 1]) - 1, float(boxes[i, 2]), float(boxes[i, 3])),
            float(boxes[i, 4]),
            np.stack([xs[i], ys[i]], axis=1).astype(np.float64),
        )
        for i in picked
    ]
    return sorted(found, key=lambda d: -d.probability)


def verify(photo: np.ndarray, boxes: list[tuple[float, float, float, float]]) -> np.ndarray:
    """ONet's face probability for each box (x0, y0, x1, y1, continuous photo pixels): a second opinion."""
    if not boxes:
        return np.zeros(0)
    onet = _networks()[2]
    with torch.inference_mode():
        image = (torch.tensor(photo, dtype=torch.float32).permute(2, 0, 1)[None] - 127.5) * 0.0078125
        indices = np.array([(x0 + 1, y0 + 1, x1, y1) for x0, y0, x1, y1 in boxes], dtype=np.float64)
        probability, _, _ = onet(_patches(image, np.round(indices), 48))
    return probability.numpy().astype(np.float64)


def _proposals(pnet: _PNet, image: torch.Tensor, min_face: float) -> np.ndarray:
    """PNet over an image pyramid: candidate boxes (x1, y1, x2, y2, score), regressed."""
    height, width = image.shape[2:]
    scale = _CELL / min_face
    shortest = min(height, width) * scale
    found = []
    while shortest >= _CELL:
        size = (int(height * scale + 1), int(width * scale + 1))
        level = functional.adaptive_avg_pool2d(image, size) if scale < 1 else functional.interpolate(
            image, size=size, mode="bilinear", align_corners=False
        )
        probability, regression = pnet(level)
        probability, regression = probability[0].numpy(), regression[0].numpy()
        rows, cols = np.nonzero(probability >= _THRESHOLDS[0])
        if rows.size:
            x1 = np.floor((_STRIDE * cols + 1) / scale)
            y1 = np.floor((_STRIDE * rows + 1) / scale)
            x2 = np.floor((_STRIDE * cols + _CELL) / scale)
            y2 = np.floor((_STRIDE * rows + _CELL) / scale)
            boxes = np.column_stack([x1, y1, x2, y2, probability[rows, cols], regression[:, rows, cols].T])
            found.append(boxes[_nms(boxes, 0.5, "union")])
        scale *= _PYRAMID_FACTOR
        shortest *= _PYRAMID_FACTOR
    if not found:
        return np.zeros((0, 5))
    boxes = np.concatenate(found)
    boxes = boxes[_nms(boxes, 0.7, "union")]
    width_, height_ = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return np.column_stack([
        boxes[:, 0] + boxes[:, 5] * width_, boxes[:, 1] + boxes[:, 6] * height_,
        boxes[:, 2] + boxes[:, 7] * width_, boxes[:, 3] + boxes[:, 8] * height_, boxes[:, 4],
    ])


def _regress(boxes: np.ndarray, regression: np.ndarray) -> np.ndarray:
    width = boxes[:, 2] - boxes[:, 0] + 1
    height = boxes[:, 3] - boxes[:, 1] + 1
    moved = boxes.copy()
    moved[:, :4] += regression * np.column_stack([width, height, width, height])
    return moved


def _square(boxes: np.ndarray) -> np.ndarray:
    """The square with the same centre and the longer side, snapped to whole pixels as the release does."""
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(width, height)
    squared = boxes.copy()
    squared[:, 0] = boxes[:, 0] + width * 0.5 - side * 0.5
    squared[:, 1] = boxes[:, 1] + height * 0.5 - side * 0.5
    squared[:, 2:4] = squared[:, 0:2] + side[:, None]
    squared[:, :4] = np.trunc(squared[:, :4])
    return squared


def _patches(image: torch.Tensor, boxes: np.ndarray, size: int) -> torch.Tensor:
    """Each box's pixels (zero outside the image, i.e. mid-grey before scaling) resampled to size x size."""
    height, width = image.shape[2:]
    patches = []
    for x1, y1, x2, y2 in boxes[:, :4].astype(np.int64):
        # Inclusive 1-based indices -> the slice [x1 - 1, x2); clip, then pad what lies outside.
        left, top, right, bottom = x1 - 1, y1 - 1, x2, y2
        if right - left < 1 or bottom - top < 1:
            right, bottom = left + 1, top + 1
        region = image[:, :, max(top, 0) : min(bottom, height), max(left, 0) : min(right, width)]
        pad = (max(0, -left), max(0, right - width), max(0, -top), max(0, bottom - height))
        if any(pad):
            region = functional.pad(region, pad, value=0.0)
        if region.shape[2] == 0 or region.shape[3] == 0:
            region = torch.zeros((1, 3, max(1, bottom - top), max(1, right - left)))
        patches.append(functional.interpolate(region, size=(size, size), mode="area"))
    return torch.cat(patches)


def _nms(boxes: np.ndarray, threshold: float, kind: str) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (highest score first)."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    x1, y1, x2, y2, score = (boxes[:, i] for i in range(5))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(score)[::-1]
    kept = []
    while order.size:
        best, rest = order[0], order[1:]
        kept.append(best)
        overlap_w = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1)
        overlap_h = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1)
        shared = overlap_w * overlap_h
        base = np.minimum(area[best], area[rest]) if kind == "min" else area[best] + area[rest] - shared
        order = rest[shared / base <= threshold]
    return np.array(kept, dtype=np.int64)

