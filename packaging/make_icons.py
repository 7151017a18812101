"""Render the app icon (resources/icons/npe.svg) into the PNG sizes desktops look for, under
packaging/icons/hicolor/SIZExSIZE/apps/npe.png (plus scalable/apps/npe.svg, a copy of the SVG).

Run it after the SVG changes and commit the PNGs:  python packaging/make_icons.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "resources" / "icons" / "npe.svg"
ICONS = Path(__file__).resolve().parent / "icons" / "hicolor"
SIZES = (16, 32, 48, 64, 128, 256, 512)


def icon_path(size: int, root: Path = ICONS) -> Path:
    return root / f"{size}x{size}" / "apps" / "npe.png"


def render(svg: Path, sizes: tuple[int, ...], root: Path) -> list[Path]:
    """Rasterise ``svg`` at each size (antialiased, transparent corners) with Qt's SVG renderer."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841  (QPainter wants one)
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG file.")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        target = icon_path(size, root)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not image.convertToFormat(QImage.Format.Format_ARGB32).save(str(target), "PNG"):
            raise SystemExit(f"Could not write {target}.")
        written.append(target)
    scalable = root / "scalable" / "apps" / "npe.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(svg, scalable)
    return [*written, scalable]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--svg", type=Path, default=SVG, help=f"the icon to render (default: {SVG.relative_to(ROOT)})")
    parser.add_argument("--out", type=Path, default=ICONS, help="the hicolor folder to write into")
    args = parser.parse_args(argv)
    for path in render(args.svg, SIZES, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
