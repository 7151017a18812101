"""The icon table: what an icon means -> which qtawesome glyph draws it (like Spyder's icon_manager).

Widgets ask for ``icon("undo")``, never for a glyph name, so the look can change in one place.
Icons take their colours from the application palette; ``bind(action, name)`` remembers the
action so ``refresh()`` can recolour every icon when the theme changes.
"""

from __future__ import annotations

import weakref
from pathlib import Path

from PySide6.QtGui import QAction, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QAbstractButton

# meaning -> Material Design Icons 6 glyph (qtawesome prefix "mdi6.")
ICONS: dict[str, str] = {
    "open-photo": "mdi6.image-outline",
    "open-session": "mdi6.folder-open-outline",
    "save-session": "mdi6.content-save-outline",
    "export": "mdi6.export",
    "recent": "mdi6.history",
    "quit": "mdi6.exit-to-app",
    "undo": "mdi6.undo",
    "redo": "mdi6.redo",
    "commit": "mdi6.check-circle-outline",
    "reset": "mdi6.restore",
    "brush": "mdi6.brush",
    "protect": "mdi6.shield-half-full",
    "unprotect": "mdi6.eraser",
    "clear-protect": "mdi6.shield-outline",
    "eyedropper": "mdi6.eyedropper",
    "face-box": "mdi6.face-recognition",
    "color": "mdi6.palette-outline",
    "compare": "mdi6.compare",
    "change-mask": "mdi6.circle-half-full",
    "zoom-in": "mdi6.magnify-plus-outline",
    "zoom-out": "mdi6.magnify-minus-outline",
    "zoom-fit": "mdi6.fit-to-screen-outline",
    "zoom-actual": "mdi6.numeric-1-box-outline",
    "zoom-face": "mdi6.face-man-outline",
    "sample": "mdi6.face-woman-outline",
    "previous": "mdi6.chevron-left",
    "next": "mdi6.chevron-right",
    "random": "mdi6.dice-5-outline",
    "latents": "mdi6.dots-grid",
    "directions": "mdi6.tune-vertical",
    "history": "mdi6.history",
    "theme": "mdi6.theme-light-dark",
    "about": "mdi6.information-outline",
    "error": "mdi6.alert-circle-outline",
    # Named attributes' sliders (CelebA names in lower case); "attribute" for one without a glyph of its own.
    "attribute": "mdi6.tune-variant",
    "attribute:smiling": "mdi6.emoticon-happy-outline",
    "attribute:mouth_slightly_open": "mdi6.emoticon-excited-outline",
    "attribute:bangs": "mdi6.face-woman-shimmer-outline",
    "attribute:eyeglasses": "mdi6.glasses",
    "attribute:male": "mdi6.gender-male-female",
    "attribute:young": "mdi6.human-male-child",
    "attribute:blond_hair": "mdi6.hair-dryer-outline",
    "attribute:black_hair": "mdi6.hair-dryer",
    "attribute:bald": "mdi6.face-man-outline",
    "attribute:no_beard": "mdi6.razor-double-edge",
    "attribute:mustache": "mdi6.mustache",
    "attribute:heavy_makeup": "mdi6.lipstick",
    "attribute:wavy_hair": "mdi6.waves",
}

APP_ICON = "npe.svg"  # in resources/icons/

_bound: weakref.WeakKeyDictionary[QAction | QAbstractButton, str] = weakref.WeakKeyDictionary()


def icon(name: str) -> QIcon:
    """The icon for ``name`` (a key of ICONS) in the current palette's colours."""
    import qtawesome

    try:
        glyph = ICONS[name]
    except KeyError:
        raise KeyError(f"no icon called {name!r} in npe.ui.icons.ICONS") from None
    palette = QGuiApplication.palette()
    return qtawesome.icon(
        glyph,
        color=palette.color(QPalette.ColorRole.ButtonText),
        color_disabled=palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText),
        color_active=palette.color(QPalette.ColorRole.ButtonText),
        color_on=palette.color(QPalette.ColorRole.Highlight),
        color_on_active=palette.color(QPalette.ColorRole.Highlight),
    )


def attribute_icon_name(attribute: str) -> str:
    """The ICONS key for a CelebA attribute name (any case)."""
    key = f"attribute:{attribute.lower()}"
    return key if key in ICONS else "attribute"


def bind(target: QAction | QAbstractButton, name: str) -> None:
    """Give ``target`` the icon ``name`` now and again after each ``refresh()``."""
    target.setIcon(icon(name))
    _bound[target] = name


def refresh() -> None:
    """Recolour every bound icon (after a palette change)."""
    for target, name in list(_bound.items()):
        try:
            target.setIcon(icon(name))
        except RuntimeError:  # the C++ object is gone
            pass


def app_icon() -> QIcon:
    """The application/window icon (an SVG in resources/icons), or an empty icon if it is missing."""
    path = app_icon_path()
    return QIcon(str(path)) if path is not None else QIcon()


def app_icon_path() -> Path | None:
    from npe.resources import resources_dir

    try:
        path = resources_dir() / "icons" / APP_ICON
    except FileNotFoundError:
        return None
    return path if path.is_file() else None
