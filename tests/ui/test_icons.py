"""The icon table (npe.ui.icons): every glyph exists in the installed qtawesome, and every attribute
`npe directions` fits by default has a slider icon of its own."""

from __future__ import annotations

from npe.editing.attributes import DEFAULT_ATTRIBUTES
from npe.ui.icons import ICONS, attribute_icon_name


def test_every_glyph_exists_in_qtawesome(qapp):
    import qtawesome

    for name, glyph in ICONS.items():
        assert not qtawesome.icon(glyph).isNull(), (name, glyph)


def test_the_default_attributes_have_icons_of_their_own():
    assert all(attribute_icon_name(name) != "attribute" for name in DEFAULT_ATTRIBUTES)
    assert ICONS[attribute_icon_name("EYEGLASSES")] == "mdi6.glasses"  # any case
    assert attribute_icon_name("Unheard_Of") == "attribute" and ICONS["attribute"] == "mdi6.tune-variant"
