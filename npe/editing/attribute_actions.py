"""EditSession's named-attribute actions (mixed into npe.editing.session.EditSession, which wraps
each as a user action): move z along Smiling, Eyeglasses... through the same latent-change path as
every edit (one undo step each; the masking technique and the protect mask apply). The maths is
npe.editing.attributes; slider positions are derived from z, never stored beside it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from npe.editing.attributes import AttributeDirections, apply_attributes, edit_label, move_to
from npe.editing.errors import SessionError
from npe.editing.history import LatentRecord

if TYPE_CHECKING:
    from npe.editing.document import Document, SessionEvents
    from npe.editing.history import History


class AttributeActions:
    """The attribute part of EditSession (see the module doc); relies on its document, history and
    ``_set_latent``."""

    document: Document
    events: SessionEvents
    _history: History
    _attributes: AttributeDirections | None
    _set_latent: Callable[[np.ndarray, str], bool]  # EditSession's: one LatentRecord, if z changed

    @property
    def attributes(self) -> AttributeDirections | None:
        """Named attribute directions (None: the model has none); the Workspace sets them."""
        return self._attributes

    @attributes.setter
    def attributes(self, attributes: AttributeDirections | None) -> None:
        self._attributes = self._check_attributes(attributes)
        self.events.emit("latent")

    def attribute_values(self) -> np.ndarray:
        """z's coordinate along each attribute, in std from the original's z0 (0 for a face just
        opened): derived from z each time, so undo, redo and session files need nothing else."""
        return np.zeros(0, np.float32) if self._attributes is None else self._attributes.coordinates(self.document.latent - self.document.latent0)

    def move_attributes(self, values: Mapping[str, float], label: str | None = None) -> bool:
        """z + sum v_i * scale_i * d_i for ``{name: v_i std}`` (names any case). One undo step ('Smiling +2 σ')."""
        attributes = self._require_attributes()
        values = {attributes.canonical(name): float(value) for name, value in values.items()}
        return self._set_latent(apply_attributes(self.document.latent, attributes, values), label or edit_label(values))

    def set_attribute(self, name: str, value: float, label: str | None = None) -> bool:
        """Move z along ``name`` until attribute_values() reads ``value``. In a gesture (a slider drag)
        every call starts from the latent before it: one exact step named by its net change."""
        attributes = self._require_attributes()
        first = self._history.open_records()[:1]
        base = first[0].before if first and isinstance(first[0], LatentRecord) else self.document.latent
        after, change = move_to(attributes, base, self.document.latent0, name, value)
        label = label or edit_label({attributes.canonical(name): change})
        self._history.relabel_group(label)
        return self._set_latent(after, label)

    def reset_attributes(self) -> bool:
        """Every attribute back to 0: z minus its attribute components (other edits stay). One undo step."""
        values = self.attribute_values()
        if not np.abs(values).max(initial=0.0) > 1e-4:  # below that it is float rounding, not an edit
            return False
        return self.move_attributes(dict(zip(self._require_attributes().names, -values)), "Reset attributes")

    def _check_attributes(self, attributes: AttributeDirections | None) -> AttributeDirections | None:
        if attributes is not None and attributes.latent_dim != self.document.latent_dim:
            raise SessionError(f"These attribute directions are for {attributes.latent_dim} latents, not {self.document.latent_dim}.")
        return attributes

    def _require_attributes(self) -> AttributeDirections:
        if self._attributes is None:
            raise SessionError("This model has no attribute directions (in NAME.directions.safetensors beside its weights).")
        return self._attributes
