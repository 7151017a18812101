"""A paint stroke on a document: it begins at the current latent, each brush position takes a step
of the brush's objective (npe.editing.brush.objective), the composite's reach limit grows with the
stroke, a paint with a clear hue carries its colour onto the part it is painted on
(npe.editing.brush.tint), some strokes follow the face's parts (npe.editing.parts: dark paint across
the eyes changes only where sunglasses lie; paint over a beard asks for the beard only, and light
paint there lightens no further than the skin; light paint above the brows lightens no skin past it),
and it ends with the latent, limit and tint before and after for one undo record. Lighten/darken is
the pixel objective with a brightened target."""

from __future__ import annotations

import math
import weakref
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from npe.editing.attributes import display_name, format_sigma
from npe.editing.brush.footprint import brush_weights, color_target
from npe.editing.brush.objective import (
    ATTRIBUTE_COSTS,
    LocalStroke,
    PixelObjective,
    SemanticObjective,
    SemanticStroke,
    finite_jacobian,
    lighten_target,
    principal_directions,
)
from npe.editing.brush.settings import DEFAULT_REACH, BrushSettings
from npe.editing.brush.tint import PartTint, skin_map
from npe.editing.compose import LUMA, change_mask, lighten_ceiling, smooth_chroma
from npe.editing.document import KEEP, Document, readonly
from npe.editing.parts import LOWER_FACE, beard_place, cheek_pixels, lens_map, lens_place, on_beard, on_eyes, on_forehead
from npe.editing.errors import SessionError

if TYPE_CHECKING:  # attributes come from the session
    from npe.editing.attributes import AttributeDirections


def weights_at(document: Document, x: float, y: float, radius: float) -> tuple[torch.Tensor, tuple[float, float], float] | None:
    """The soft brush at photo position (x, y) with ``radius`` photo pixels, at model resolution on
    the model's device, with its centre and radius in crop pixels; None if it lies wholly outside
    the face box (nothing it could change)."""
    u, v = document.to_crop_coords(x, y)
    crop_radius = radius * document.resolution / document.box.size
    weights = brush_weights(document.resolution, u, v, crop_radius)
    if not bool(weights.any()):
        return None
    return weights.to(document.device), (u, v), crop_radius


def grown_limit(limit: np.ndarray | None, reach: torch.Tensor) -> np.ndarray | None:
    """The reach limit (uint8, see Document.set_latent) joined with a stroke's feathered reach;
    "everywhere" (None) stays everywhere. Stored as uint8 so undo and saved files are bit-exact."""
    if limit is None:
        return None
    return readonly(np.maximum(limit, np.rint(reach.detach().cpu().numpy() * 255.0).astype(np.uint8)))


IDENTITY = ("Male", "Young")  # what a stroke should not change about who the person is
DARK_LEVELS = 80.0  # paint at most this light (Rec. 601 luminance, 0-255) is "dark" (sunglasses across the eyes)
SKIN_MARGIN = 10.0  # grey levels above the cheeks' luminance a beard's stroke may lighten the lower face to


def identity_rows(attributes: AttributeDirections | None, directions: torch.Tensor) -> torch.Tensor | None:
    """I x K: the change of each IDENTITY attribute's logit (the model's linear classifier in z) per
    unit along each direction, scaled so that one σ along the attribute's own direction reads 1."""
    if attributes is None:
        return None
    rows = []
    for name in IDENTITY:
        if name.lower() not in (known.lower() for known in attributes.names):
            continue
        index = attributes.index(name)
        normal = torch.as_tensor(np.asarray(attributes.normals[index], np.float64))
        own = float(normal @ torch.as_tensor(np.asarray(attributes.vectors[index], np.float64))) * float(attributes.scales[index])
        if abs(own) > 1e-8:
            rows.append((normal.to(directions) @ directions) / own)
    return torch.stack(rows) if rows else None


def semantic_basis(document: Document, attributes: AttributeDirections | None, objective: SemanticObjective) -> tuple[torch.Tensor, torch.Tensor]:
    """(D x K directions, K costs): the named attribute directions (one σ each; costed by
    ATTRIBUTE_COSTS) and the principal directions (one σ each, ``component_cost``)."""
    basis = document.model.latent_basis.to(document.z)
    pca = principal_directions(basis, objective.components)
    # Without named directions the principal ones are all the meaning there is: they cost what one would.
    component_cost = objective.component_cost if attributes is not None else objective.attribute_cost
    columns, costs = [pca], [torch.full((pca.shape[1],), component_cost)]
    if attributes is not None:
        vectors = torch.as_tensor(np.asarray(attributes.vectors) * np.asarray(attributes.scales)[:, None]).to(pca)
        columns.insert(0, vectors.t())
        costs.insert(0, torch.tensor([objective.attribute_cost * ATTRIBUTE_COSTS.get(name, 1.0) for name in attributes.names]))
    return torch.cat(columns, dim=1), torch.cat(costs).to(pca)


# The change each direction makes, per document generator: computed at a stroke's start (one batched
# decode of the K directions, ~0.1-0.3 s on a CPU) and reused while z stays within REUSE_DISTANCE
# (whitened σ) of where it was computed.
_JACOBIANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
REUSE_DISTANCE = 1.5


def jacobian_for(document: Document, directions: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """finite_jacobian at the document's z, cached per generator while z stays within
    REUSE_DISTANCE standard deviations (whitened, all latents) of where it was measured."""
    cached = _JACOBIANS.get(document.generator)
    z = document.z.detach()
    if cached is not None:
        where, used, measured, jacobian = cached
        if used.shape == directions.shape and torch.equal(used, directions) and measured == scale:
            whitened = torch.linalg.solve(document.model.latent_basis.to(z), (z - where).reshape(-1, 1))
            if float(whitened.norm()) <= REUSE_DISTANCE:
                return jacobian
    jacobian = finite_jacobian(document.generate, z, directions, scale)
    _JACOBIANS[document.generator] = (z.clone(), directions, scale, jacobian)
    return jacobian


def prepare_stroke(document: Document, attributes: AttributeDirections | None = None) -> None:
    """Measure the semantic brush's directions at the document's z now (after a stroke ends, while
    the user lifts the mouse), so the next stroke starts without that 0.15-0.2 s decode."""
    objective = SemanticObjective()
    directions, _ = semantic_basis(document, attributes, objective)
    jacobian_for(document, directions, objective.measure)


# What a hue stroke may ask of the model when its colour cannot be carried onto the part under it
# (yellow through dark hair: lifting dark hair to a yellow's lightness paints a flat patch): a hair
# colour, the only colour the model's named directions know. With every direction open the model
# answered a yellow stroke by brightening whatever lay under it (fewer bangs, a shave, a principal
# direction: glowing foreheads); measured in benchmarks/edit_quality_log.md, session 13.
HUE_DIRECTIONS = ("Blond_Hair", "Black_Hair", "Brown_Hair", "Gray_Hair")


def hue_directions(attributes: AttributeDirections | None) -> list[int] | None:
    """The columns of semantic_basis a hue stroke may move along (HUE_DIRECTIONS the model has), or
    None (every direction) when it has none of them."""
    if attributes is None:
        return None
    found = [index for index, name in enumerate(attributes.names) if name in HUE_DIRECTIONS]
    return found or None


# What paint over a beard may ask of the model: the beard (light paint shaves it, dark grows it). With
# every direction open the model answered a shave with makeup or a younger, softer face as often as
# with the beard (the judge read 4 of 50 shaved men as women); measured in edit_quality_log.md, session 15.
BEARD_DIRECTIONS = ("No_Beard", "Goatee", "Mustache", "5_o_Clock_Shadow", "Sideburns")
# How far such a stroke moves along them, in units of the objective's optimum (SemanticObjective.boldness,
# 1.5 elsewhere): with the beard's direction alone a bolder move cannot turn into makeup or another
# face, and at 1.5 skin colour mostly trimmed a beard and dark paint grew stubble. Measured (50 faces):
# skin colour 78 -> 94% beard-free, dark 58 -> 76% goatee, white 96 -> 100% (identity 80 -> 78%);
# held to the face's oval (parts.face_oval, against the jaw line's smear on the background) and off the
# lips (parts.off_lips) 90, 66, 98%.
BEARD_BOLDNESS = 2.2


def beard_directions(attributes: AttributeDirections | None) -> list[int] | None:
    """The columns of semantic_basis a stroke over a beard may move along (BEARD_DIRECTIONS the model
    has), or None (every direction) when it has none of them."""
    if attributes is None:
        return None
    found = [index for index, name in enumerate(attributes.names) if name in BEARD_DIRECTIONS]
    return found or None


def make_stroke(document: Document, brush: BrushSettings, attributes: AttributeDirections | None = None,
                allowed: list[int] | None = None) -> LocalStroke:
    """The objective's stroke for ``brush`` starting at the document's current latent; ``allowed``:
    the columns of semantic_basis the semantic brush may move along (None: all)."""
    if brush.objective == "pixel":
        settings = PixelObjective(reach=float(brush.reach), strength=float(brush.strength))
        return LocalStroke(document.generate, document.z, document.model.latent_basis, settings, grey=document.grey)
    objective = SemanticObjective(reach=float(brush.reach), strength=float(brush.strength))
    directions, costs = semantic_basis(document, attributes, objective)
    jacobian = jacobian_for(document, directions, objective.measure)
    return SemanticStroke(document.generate, document.z, directions, costs, jacobian, objective, grey=document.grey,
                          identity=identity_rows(attributes, directions), allowed=allowed)


class Stroke:
    """One paint stroke in progress on ``document`` (see module doc)."""

    def __init__(self, document: Document, brush: BrushSettings, attributes: AttributeDirections | None = None) -> None:
        self.document = document
        self.brush = brush
        self.start = document.z.detach().clone()
        self.start_limit = document.limit
        self.start_tint = document.tint
        self._lenses: np.ndarray | None = None  # parts.lens_place of the crop, once the stroke lies across the eyes
        # The semantic brush on a colour photo may carry a paint's hue onto the part under it; the
        # pixel brush (the old one, kept as a control) never does.
        self.tint: PartTint | None = None
        if brush.objective == "semantic" and not document.grey:
            tint = PartTint(np.asarray(document.crop), brush.color, float(brush.reach))
            self.tint = tint if tint.active else None
        self.target = color_target(brush.color, document.device)
        # Dark paint across the eyes changes only where sunglasses lie (parts.lens_map).
        semantic = brush.objective == "semantic" and self.tint is None
        bright = float(np.dot(LUMA, brush.color)) > DARK_LEVELS
        self.dark = semantic and not bright
        # Light paint over a beard may not lighten it past the face's own skin (parts.on_beard).
        self.light = semantic and bright
        # Light paint on the hair or forehead, a hue's too (yellow for blond), may not bleach the skin.
        self.lifting = brush.objective == "semantic" and bright
        self.painted: np.ndarray | None = None  # the stroke's brush weights so far (max over positions)
        self._ceilings: dict[str, tuple[torch.Tensor, float, torch.Tensor]] = {}  # _skin_ceiling's, made once per region
        self.names = tuple(attributes.names) if attributes is not None else ()  # the named directions lead the basis
        self.recolouring = False  # True once the stroke's hue has found a part to recolour
        self.on_skin = False  # True once it has found only the face's own skin (and stopped asking the model)
        self.touched = False  # True once the brush has touched the face box (outside it nothing can change)
        # A hue stroke the tint cannot carry asks the model for a hair colour only (HUE_DIRECTIONS).
        self.optimizer = make_stroke(document, brush, attributes, hue_directions(attributes) if self.tint is not None else None)
        # Plain paint over a beard (parts.on_beard) asks for the beard only (BEARD_DIRECTIONS); elsewhere
        # every direction the stroke began with.
        self._beard = beard_directions(attributes) if (self.dark or self.light) and isinstance(self.optimizer, SemanticStroke) else None
        self._open = self.optimizer.allowed if isinstance(self.optimizer, SemanticStroke) else None
        self._semantic = self.optimizer.semantic if isinstance(self.optimizer, SemanticStroke) else None

    def move_to(self, x: float, y: float) -> bool:
        """The brush at (x, y) (photo pixels): ``brush.steps`` steps; the document shows the new z
        (emitting "latent" and "image") with the limit grown by the stroke's reach and the tint it
        carries. True if z or the tint changed."""
        self.document.check_position(x, y, "brush position")
        found = weights_at(self.document, x, y, self.brush.radius)
        if found is None:
            return False
        self.touched = True
        weights, centre, radius = found
        if self.dark or self.lifting:
            here = weights.detach().cpu().numpy()
            self.painted = here if self.painted is None else np.maximum(self.painted, here)
            if self._beard is not None and self._semantic is not None and isinstance(self.optimizer, SemanticStroke):
                beard = on_beard(self.painted)
                self.optimizer.allowed = self._beard if beard else self._open
                self.optimizer.semantic = replace(self._semantic, boldness=BEARD_BOLDNESS) if beard else self._semantic
        before = self.optimizer.latent
        # A stroke that follows the hair asks the model for the hair's colour: from then on it carries none
        # itself (the part it would find is whatever else the stroke crosses: a lit forehead turned gold).
        tint = self._carry(weights, carry=not self.following)
        # A hue painted on a part whose lightness it keeps (red over lips) recolours it: from then on the
        # model is not asked for that colour's shape (asked for red over lips, it drew a dark beard).
        # On the face's own skin, or far from the part's lightness (yellow through dark hair), a
        # colour carries nothing and asks the model, as any other paint does.
        self.recolouring = self.recolouring or tint is not None
        # A hue on the face's own skin (red on a cheek or on lips as pale as the skin, yellow on a
        # forehead) has no part to recolour, and asked for it the model drew beards and pale patches
        # (edit_quality_log.md): from then on the stroke asks it nothing.
        if self.tint is not None and self.tint.on_skin and not self.recolouring and self.tint.hair_like:
            # Hair's own colour on skin (auburn from the eyedropper over a forehead): "hair here", as
            # dark paint asks; no colour to carry, every direction open.
            self.tint = None
            if isinstance(self.optimizer, SemanticStroke):
                self.optimizer.allowed = None
        if self.tint is not None and not self.recolouring and isinstance(self.optimizer, SemanticStroke):
            # A hair colour the model is asked for (yellow through dark hair) is the whole hair's, not a
            # disc's: the change follows the hair the stroke lies on (tint.PartTint.hair), down the sides too.
            hair = self.tint.hair()
            if hair is not None:
                self.optimizer.free_part(torch.from_numpy(hair))
        # Once on the hair, a stroke that crosses the forehead's skin goes on asking for the hair's colour.
        self.on_skin = not self.following and (self.on_skin or (self.tint is not None and self.tint.on_skin and not self.recolouring))
        if not (self.recolouring or self.on_skin):
            for _ in range(self.brush.steps):
                self.optimizer.step(weights, self.target, centre, radius)
        moved = not torch.equal(before, self.optimizer.latent)
        if moved and self.following and self.start_limit is not None:
            # The hair's new colour is carried as the stroke's colour (the tint), not as the model's change
            # within a reach: a carried colour that reaches the face box's border goes on down the hair
            # beyond it (render.Renderer._goes_on), where the model's change would end at the box in a band.
            generated = self.optimizer.image()
            self.document.set_latent(self.optimizer.latent, generated=generated, limit=self.start_limit, tint=self._hair_tint(generated))
            return True
        if moved or tint is not None:
            # The optimizer's last forward pass is G(new z): shown now, differentiated next step.
            limit = grown_limit(self.start_limit, self._reach()) if moved else self.document.limit
            generated = self.optimizer.image() if moved else self.document.generated
            self.document.set_latent(self.optimizer.latent, generated=generated, limit=limit, tint=KEEP if tint is None else tint)
        return moved or tint is not None

    def _reach(self) -> torch.Tensor:
        """Where the stroke may change the composite: the optimizer's reach, held to the lenses' place
        for dark paint across the eyes (sunglasses, not dark sockets and brows), for paint over a beard
        to the face's oval off the lips and, light, to the share of the change
        that lightens no lower-face pixel past the skin, and for light paint on the hair or forehead to
        the share that lightens no skin-coloured pixel past it; for a hair colour asked of the model, the
        hair it follows off the skin."""
        if self.following:
            # A hair colour changes the hair and nothing else: not the forehead the stroke crosses, nor the
            # eyes, cheeks and mouth (the model's blond faces are paler: with the disc's reach a yellow
            # stroke paled and yellowed the upper face).
            assert isinstance(self.optimizer, SemanticStroke) and self.optimizer.free is not None
            hair = self.optimizer.free.float()
            reach = hair * (1.0 - self._skin_ceiling(hair, "skin")[2])
        else:
            reach = self.optimizer.composite_reach()
        if self.painted is None:
            return reach
        if self.dark and on_eyes(self.painted):
            # A pair of sunglasses: both lenses and the bridge, whatever part of them the brush crossed; a
            # reach that is exactly their place also tells the composite to draw their edge crisp
            # (render.Renderer._outline).
            if self._lenses is None:
                doc = self.document  # a generated face has nothing beside it: the lenses' place
                self._lenses = lens_map(doc.resolution) if doc.is_sample else lens_place(np.asarray(doc.crop))
            reach = torch.tensor(self._lenses, dtype=reach.dtype, device=reach.device)
        elif (self.light or self.dark) and on_beard(self.painted):
            # A beard lies on the face: the background by the jaw keeps its pixels (a bolder shave
            # pulled the model's jaw line over a dark background as a pale smear).
            # Nor the lips and what lies between them: the model's beardless faces have closed mouths and
            # redder lips, and a shave closed grins into pink smears and reddened closed lips.
            reach = reach * torch.tensor(beard_place(self.document.resolution), dtype=reach.dtype, device=reach.device)
            if self.light:
                # A shave shows the face's own skin: the lower face may not lighten past the cheeks (the
                # model's beardless chins are paler than dark skin, and white paint asks for light).
                reach = reach * self._held(reach, "lower face")
        elif self.lifting and on_forehead(self.painted):
            # Lighter (blond) hair, not a bleached forehead: the model's blond faces are paler, and a
            # yellow or white stroke over a hairline lifted the forehead's skin to a glow.
            reach = reach * self._held(reach, "skin")
        return reach

    def _hair_tint(self, generated: torch.Tensor) -> np.ndarray:
        """The tint with this stroke's change on the hair it follows: the model's change since the stroke
        began as the composite would show it (its colour smoothed, masked, within the hair), added to the
        tint the stroke began with (float16 R x R x 3, read-only)."""
        change = generated.detach() - self.optimizer.start_image
        carried = smooth_chroma(change) * change_mask(change).to(change) * self._reach().to(change)
        total = carried[0].permute(1, 2, 0).cpu().numpy()
        if self.start_tint is not None:
            total = total + self.start_tint.astype(np.float32)
        return readonly(np.clip(total, -2.0, 2.0).astype(np.float16))

    @property
    def following(self) -> bool:
        """True once the stroke follows the hair it lies on (a hair colour asked of the model)."""
        return isinstance(self.optimizer, SemanticStroke) and self.optimizer.free is not None

    def _held(self, reach: torch.Tensor, region: str) -> torch.Tensor:
        """compose.lighten_ceiling's share of the stroke's current change within ``reach``, for
        ``region`` ("lower face" or "skin": _skin_ceiling's)."""
        pixels, ceiling, where = self._skin_ceiling(reach, region)
        delta = self.optimizer.image().detach() - self.document.recon
        return lighten_ceiling(pixels, delta * change_mask(delta).to(delta) * reach.to(delta), ceiling, where).to(reach)

    def _skin_ceiling(self, like: torch.Tensor, region: str) -> tuple[torch.Tensor, float, torch.Tensor]:
        """(the crop as a float 3 x R x R tensor, the cheeks' luminance + SKIN_MARGIN, the region held
        as a float R x R map: "lower face", every pixel below LOWER_FACE; "skin", how much each pixel
        is skin-coloured, tint.skin_map), made once per stroke and region."""
        if region not in self._ceilings:
            crop = np.asarray(self.document.crop, dtype=np.float32)
            skin = float(np.median(cheek_pixels(crop) @ np.asarray(LUMA, np.float32)))
            size = self.document.resolution
            if region == "skin":
                held = torch.tensor(skin_map(np.asarray(self.document.crop)), dtype=like.dtype, device=like.device)
            else:
                held = torch.zeros(size, size, dtype=like.dtype, device=like.device)
                held[int(size * LOWER_FACE) :] = 1.0
            pixels = torch.tensor(crop, dtype=like.dtype, device=like.device).permute(2, 0, 1)
            self._ceilings[region] = (pixels, skin + SKIN_MARGIN, held)
        return self._ceilings[region]

    @property
    def hint(self) -> str | None:
        """What to tell the user when the stroke could change nothing: it never touched the face box, or
        its hue found only skin."""
        if not self.touched:
            return "Only the face inside the face box can change: paint on the face, or move the box (Face box tool, X) over what to edit."
        if not self.on_skin or self.recolouring:
            return None
        return ("A colour on skin changes nothing: paint it on lips, eyes or hair (skin colour from the eyedropper reshapes skin; "
                "a hair colour or dark paint grows hair).")

    def _carry(self, weights: torch.Tensor, carry: bool = True) -> np.ndarray | None:
        """Join this position to the tint's footprint: the document's new tint (the stroke's start
        plus the colour this stroke carries), or None if it has not changed."""
        if self.tint is None:
            return None
        self.tint.add(weights.detach().cpu().numpy())
        if not carry:
            return None
        change = self.tint.change()
        if change is None:
            return None
        total = change if self.start_tint is None else change + self.start_tint.astype(np.float32)
        tint = np.clip(total, -2.0, 2.0).astype(np.float16)
        current = self.document.tint
        if current is not None and current is not self.start_tint and np.array_equal(current, tint):
            return None
        return readonly(tint)

    def alternatives(self, count: int = 3) -> list[tuple[str, np.ndarray]]:
        """The answers the model has to this stroke (SemanticStroke.answers): its own first, then up
        to ``count`` others, as (a label naming the direction each leads with and its move, its
        latent). None for a stroke that recoloured a part, found only skin, or was not solved on
        the measured changes, or that has no other answer."""
        if not isinstance(self.optimizer, SemanticStroke) or self.recolouring or self.on_skin or (self.following and self.start_limit is not None):
            return []
        found = []
        for index, amount, latent in self.optimizer.answers(count):
            label = f"{self.direction_label(index)} {format_sigma(round(amount, 1))}"
            found.append((label, latent[0].cpu().numpy().astype(np.float32)))
        return found

    def summary(self) -> str | None:
        """What the stroke did, for its undo step's name: "lips colour" or "colour" for a hue carried
        onto a part, the direction the semantic brush led with and its move ("Smiling +1.8 σ"), or
        None (the pixel brush, or nothing moved)."""
        if self.recolouring:
            return "lips colour" if self.tint is not None and self.tint.on_lips else "colour"
        if not isinstance(self.optimizer, SemanticStroke) or self.optimizer.lead is None:
            return None
        index = self.optimizer.lead
        amount = round(float(self.optimizer.offset[0, index]), 1)
        if amount == 0.0:
            return None
        return f"{self.direction_label(index)} {format_sigma(amount)}"

    def direction_label(self, index: int) -> str:
        """The user's name of semantic_basis's column ``index``: an attribute's, or "Principal direction N"."""
        if index < len(self.names):
            return display_name(self.names[index])
        return f"Principal direction {index - len(self.names) + 1}"

    def latents(self) -> tuple[np.ndarray, np.ndarray]:
        """(z at the start, z now) as float32 arrays: the stroke's undo record."""
        return self.start[0].cpu().numpy(), self.document.latent


def lighten_latent(
    document: Document, x: float, y: float, amount: float, radius: float, steps: int = 3, reach: float = DEFAULT_REACH
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(latent, limit) after brightening (amount > 0) or darkening under a soft brush at (x, y):
    the local brush toward the current G(z) shifted by ``amount`` ([0, 1] brightness units). None if
    the brush misses the face box or ``amount`` is 0. The document is not changed."""
    if not math.isfinite(amount) or not radius > 0 or steps < 1:
        raise SessionError(f"lighten needs a finite amount, a positive radius and steps >= 1, got {amount}, {radius}, {steps}")
    document.check_position(x, y, "brush position")
    found = weights_at(document, x, y, radius)
    if found is None or amount == 0:
        return None
    weights, centre, crop_radius = found
    optimizer = LocalStroke(document.generate, document.z, document.model.latent_basis, PixelObjective(reach=float(reach)), grey=document.grey)
    target = lighten_target(optimizer.start_image, amount)
    for _ in range(steps):
        optimizer.step(weights, target, centre, crop_radius)
    return optimizer.latent[0].cpu().numpy(), grown_limit(document.limit, optimizer.composite_reach())
