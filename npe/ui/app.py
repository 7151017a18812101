"""Starts the editor window (placeholder until the GUI lands)."""

from __future__ import annotations

import argparse
import sys


def run_editor(args: argparse.Namespace) -> int:
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication(sys.argv[:1])
    label = QLabel("npe: the editor window is under construction.")
    label.resize(640, 400)
    if args.screenshot:
        label.grab().save(args.screenshot)
        return 0
    label.show()
    return app.exec()
