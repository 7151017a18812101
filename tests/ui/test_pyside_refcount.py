"""Regression: PySide6 6.12.0 on CPython < 3.12 dropped one reference to None per void Qt call, and the
interpreter aborted ("Fatal Python error: none_dealloc") after a few thousand paints: about 70 strokes
in the editor. pyproject.toml excludes that pair; this test fails on any PySide6 that does it again."""

from __future__ import annotations

import sys


def test_void_qt_calls_keep_none_alive(qapp):
    from PySide6.QtWidgets import QWidget

    widget = QWidget()
    before = sys.getrefcount(None)
    for _ in range(10_000):
        widget.update()  # a void C++ call returning None
    assert sys.getrefcount(None) - before >= -100  # the broken pair loses exactly 10,000
    widget.deleteLater()
