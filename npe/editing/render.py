"""What the document looks like: the masking technique's change Δ and mask M, the composite at
model resolution, the full-resolution result and the fast preview, each cached until the latent,
the protect mask or the source changes (the maths itself is in npe.editing.compose)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from npe.editing.compose import (
    MaskSettings,
    PreviewCompositor,
    change_mask,
    continuation_map,
    crop_composite,
    feather_for,
    full_result,
    greyscale_delta,
    limit_change_mask,
    smooth_chroma,
)
from npe.editing.document import Document, readonly
from npe.editing.parts import lens_map, lens_place
from npe.editing.protect import crop_coverage

TINT_GAIN = 10.0  # a carried colour goes on past the box in full from a mean 0.1 ([-1, 1] units, ~13 levels)


@dataclass
class RenderCache:
    """Everything derived from one (source, latent, protect) revision of the document."""

    key: tuple[int, int, int]
    delta: torch.Tensor | None = None  # Δ = G(z) − G(z0), 1 x 3 x R x R on the CPU
    mask: torch.Tensor | None = None  # M, R x R
    terms: tuple[torch.Tensor, torch.Tensor] | None = None  # what the composite adds: (M·Δ + tint, ones) with a tint
    result: np.ndarray | None = None
    result_crop: np.ndarray | None = None
    previews: dict[float, np.ndarray] = field(default_factory=dict)


@dataclass
class _ProtectCache:
    key: tuple[int, int]
    coverage: np.ndarray | None


class Renderer:
    """Renders a Document on demand (see module doc)."""

    def __init__(self, document: Document, mask_settings: MaskSettings = MaskSettings()) -> None:
        self.document = document
        self.mask_settings = mask_settings
        self._cache = RenderCache((-1, -1, -1))
        self._protect: _ProtectCache | None = None
        self._compositor: PreviewCompositor | None = None
        self._compositor_key = (-1, -1)
        self._continues: tuple[int, tuple[tuple[int, int, int, int], np.ndarray] | None] | None = None
        self._lenses: tuple[int, np.ndarray] | None = None  # (source revision, parts.lens_place of its crop as uint8)

    def _current(self) -> RenderCache:
        doc = self.document
        key = (doc.source_revision, doc.latent_revision, doc.protect_revision)
        if self._cache.key != key:
            self._cache = RenderCache(key)
        return self._cache

    def delta_mask(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(Δ, M) for the current latent: the masking technique within the strokes' reach; all ones for
        a generated sample whose latent was set as a whole (a slider, a direction)."""
        cache = self._current()
        if cache.delta is None or cache.mask is None:
            cache.delta, cache.mask = self._delta_mask_of(self.document.generated)
        return cache.delta, cache.mask

    def _delta_mask_of(self, generated: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(Δ, M) were G(z) ``generated`` (delta_mask's maths, uncached, on the CPU)."""
        doc = self.document
        delta = (generated - doc.recon).detach()
        if doc.grey:  # a grey photo stays grey: the change as its luminance on every channel
            delta = greyscale_delta(delta)
        if doc.is_sample and doc.limit is None:  # a generated face after a slider: shown as made
            mask = torch.ones(delta.shape[-2:], device=delta.device)
        else:  # the masking technique, on a photo and for a sample's strokes alike
            mask = change_mask(delta, self.mask_settings)
            if not doc.grey:  # the change's colour carried smoother than its lightness (compose.smooth_chroma)
                delta = smooth_chroma(delta)
        if doc.limit is not None:  # never carry a stroke's change beyond its reach
            mask = limit_change_mask(mask, torch.tensor(doc.limit, dtype=torch.float32, device=mask.device) / 255.0)
        return delta.cpu(), mask.cpu()

    def _with_tint(self, delta: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """composite_terms' maths for (Δ, M): the hue strokes' tint T joined as (M·Δ + T, 1)."""
        tint = self.document.tint
        if tint is None:
            return delta, mask
        carried = torch.from_numpy(np.asarray(tint, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)
        return delta * mask + carried, torch.ones_like(mask)

    def crop_for(self, generated: torch.Tensor) -> np.ndarray:
        """result_crop were G(z) ``generated``, the document unchanged (a preview of another
        latent: a stroke's alternatives). Not cached."""
        delta, mask = self._with_tint(*self._delta_mask_of(generated))
        return crop_composite(self.document.crop, delta, mask, self.protect_crop())

    def composite_terms(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(change, weight) for the composite X + weight · change: (Δ, M) without a tint; with the hue
        strokes' tint T, (M·Δ + T, 1): the model's change as masked, and the colour carried onto the
        parts, which ends where their parts end (npe.editing.brush.tint)."""
        delta, mask = self.delta_mask()
        if self.document.tint is None:
            return delta, mask
        cache = self._current()
        if cache.terms is None:
            cache.terms = self._with_tint(delta, mask)
        return cache.terms

    def protect_crop(self) -> np.ndarray | None:
        """The protect mask at model resolution (float R x R; 1 = fully protected), or None."""
        doc = self.document
        key = (doc.source_revision, doc.protect_revision)
        if self._protect is None or self._protect.key != key:
            coverage = crop_coverage(doc.protect, doc.box, doc.resolution) if doc.protect_any else None
            self._protect = _ProtectCache(key, coverage)
        return self._protect.coverage

    def result(self) -> np.ndarray:
        cache = self._current()
        if cache.result is None:
            doc = self.document
            delta, mask = self.composite_terms()
            protect = doc.protect if doc.protect_any else None
            gate = self._goes_on()
            found = None if gate is None else self._continuation()
            extend = None if gate is None or found is None else (*found, gate)
            cache.result = readonly(full_result(doc.photo, doc.box, delta, mask, protect, feather_for(doc.photo_size, doc.box), self._cover(), extend,
                                                 self._outline()))
        return cache.result

    def result_crop(self) -> np.ndarray:
        cache = self._current()
        if cache.result_crop is None:
            delta, mask = self.composite_terms()
            cache.result_crop = readonly(crop_composite(self.document.crop, delta, mask, self.protect_crop()))
        return cache.result_crop

    def preview(self, scale: float) -> np.ndarray:
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        cache = self._current()
        image = cache.previews.get(scale)
        if image is None:
            delta, mask = self.composite_terms()
            image = cache.previews[scale] = readonly(self._compositor_now().render(delta, mask, scale, self._gate_tensor(), self._outline()))
        return image

    def _goes_on(self) -> np.ndarray | None:
        """How much of the change at each crop pixel goes on past the face box along the border's colours
        (compose.full_result's ``extend``): the carried colour of hue strokes (the tint: hair a stroke
        turned lighter, which goes on down the hair beyond the box), float32 R x R in [0, 1]; None when
        none of it reaches the box's border. The model's own change ends at the box as before (a mouth's
        change reaching the chin must not go on down the neck)."""
        doc = self.document
        if doc.tint is None or doc.is_sample:
            return None
        gate = np.minimum(np.abs(np.asarray(doc.tint, np.float32)).mean(axis=2) * TINT_GAIN, 1.0)
        if not (gate[0].any() or gate[-1].any() or gate[:, 0].any() or gate[:, -1].any()):
            return None
        return gate

    def _continuation(self) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
        """compose.continuation_map for the document's photo, box and crop, made once per source."""
        doc = self.document
        if self._continues is None or self._continues[0] != doc.source_revision:
            self._continues = (doc.source_revision, continuation_map(doc.photo, doc.box, np.asarray(doc.crop)))
        return self._continues[1]

    def _gate_tensor(self) -> torch.Tensor | None:
        gate = self._goes_on()
        return None if gate is None else torch.from_numpy(gate)

    def _cover(self) -> tuple[np.ndarray, np.ndarray] | None:
        """What lies in front of a photo's face when the edit darkens it: sunglasses' lenses
        (parts.lens_map), with the crop the change was made on (compose.full_result's ``cover``).
        None for a generated sample (no detail beyond the model's own)."""
        doc = self.document
        return None if doc.is_sample else (np.asarray(doc.crop), lens_map(doc.resolution))

    def _outline(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Where the composite's reach is a pair of sunglasses' lenses, for compose.full_result's
        ``outline`` (the lenses' edge drawn crisp at the photo's resolution): (the reach limit as float
        R x R in [0, 1], 1 on the lenses' edge where the limit is exactly their place). Dark paint
        across the eyes holds its reach to their place on this face (parts.lens_place), so a limit equal
        to it is theirs; where another stroke's reach goes further the edge is that stroke's and stays
        soft. None without a limit (a slider's change shows everywhere), without lenses, and for a
        generated face."""
        doc = self.document
        if doc.limit is None or doc.is_sample:  # a generated face has no resolution beyond the model's
            return None
        if self._lenses is None or self._lenses[0] != doc.source_revision:
            # The lenses' place as a stroke's reach limit stores it (stroke.grown_limit's rounding), once per source.
            self._lenses = (doc.source_revision, np.rint(lens_place(np.asarray(doc.crop)) * 255.0).astype(np.uint8))
        place = self._lenses[1]
        limit = np.asarray(doc.limit)
        # Their edge (the lenses' soft rim, 0 < place < 255) where the limit is exactly their place: within the
        # lenses any stroke's full reach is 255 as theirs is, and the edge is all that is drawn differently.
        held = (place > 0) & (place < 255) & (limit == place)
        if not held.any():
            return None
        return limit.astype(np.float32) / 255.0, held.astype(np.float32)

    def _compositor_now(self) -> PreviewCompositor:
        doc = self.document
        if self._compositor is None or self._compositor_key[0] != doc.source_revision:
            self._compositor = PreviewCompositor(doc.photo, doc.box, doc.resolution, feather_for(doc.photo_size, doc.box), self._cover(),
                                                 None if doc.is_sample else np.asarray(doc.crop))
            self._compositor_key = (doc.source_revision, -1)
        if self._compositor_key[1] != doc.protect_revision:
            self._compositor.set_protect(doc.protect if doc.protect_any else None)
            self._compositor_key = (doc.source_revision, doc.protect_revision)
        return self._compositor
