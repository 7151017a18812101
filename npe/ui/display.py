"""Before Qt starts: can its X11 (xcb) display plugin load? If not, say in one line what to install.

Qt >= 6.5's xcb plugin links system libraries (libxcb-cursor0 and others) that stock Debian and Ubuntu
lack; Qt then prints a plugin error and aborts the process, which Python cannot catch. Loading the
plugin's shared library ourselves first names the missing library in the loader's error message.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from pathlib import Path

# The system packages Qt's xcb plugin needs on Debian/Ubuntu (Qt's "X11 requirements").
DEBIAN_PACKAGES = (
    "libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0", "libxcb-render-util0",
    "libxcb-shape0", "libxcb-randr0", "libxcb-xinerama0", "libxcb-xkb1", "libxkbcommon-x11-0", "libegl1",
)
# soname (as the loader reports it) -> Debian/Ubuntu package
_PACKAGE_OF = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0", "libxcb-render-util.so.0": "libxcb-render-util0", "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-xinerama.so.0": "libxcb-xinerama0", "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0", "libxkbcommon.so.0": "libxkbcommon0", "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1", "libdbus-1.so.3": "libdbus-1-3", "libGL.so.1": "libgl1",
}
_MISSING = re.compile(r"([\w.+-]+\.so[\w.]*): cannot open shared object file")


def uses_xcb(environ: dict[str, str] | None = None, platform: str = sys.platform) -> bool:
    """Will Qt pick its xcb plugin? On Linux when QT_QPA_PLATFORM asks for it, or when it is unset and
    an X display is there (no Wayland session, which Qt would prefer)."""
    environ = dict(os.environ) if environ is None else environ
    if not platform.startswith("linux"):
        return False
    requested = environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if requested:
        return requested == "xcb"
    return bool(environ.get("DISPLAY")) and not environ.get("WAYLAND_DISPLAY")


def xcb_plugin_path() -> Path | None:
    """PySide6's libqxcb.so, or None where this PySide6 has none."""
    import PySide6

    path = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return path if path.is_file() else None


def missing_library_message(loader_error: str) -> str:
    """The one line to show for the loader's error about the xcb plugin."""
    match = _MISSING.search(loader_error)
    library = match.group(1) if match else None
    package = _PACKAGE_OF.get(library or "")
    what = f"the system library {library}" + (f" (package {package})" if package else "") if library else "system libraries"
    return (
        f"Qt's X11 display plugin cannot start: {what} is missing. On Debian/Ubuntu install them with "
        f"'sudo apt-get install {' '.join(DEBIAN_PACKAGES)}' (Fedora: 'sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms')."
    )


def check_display_plugin(environ: dict[str, str] | None = None) -> str | None:
    """None if the xcb plugin will load (or is not the one Qt will use); else the one-line message."""
    if not uses_xcb(environ):
        return None
    plugin = xcb_plugin_path()
    if plugin is None:
        return None
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        return missing_library_message(str(exc))
    return None
