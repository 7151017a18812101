"""The xcb preflight: which platform Qt will use, and the one-line message naming what to install."""

from __future__ import annotations

from npe.ui.display import DEBIAN_PACKAGES, check_display_plugin, missing_library_message, uses_xcb


def test_xcb_is_used_on_linux_x11_or_when_asked():
    assert uses_xcb({"DISPLAY": ":0"}, "linux")
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb:foo=1"}, "linux")
    assert not uses_xcb({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not uses_xcb({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, "linux")
    assert not uses_xcb({}, "linux")
    assert not uses_xcb({"DISPLAY": ":0"}, "darwin")
    assert not uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "win32")


def test_the_message_names_the_missing_library_and_its_package():
    error = "libxcb-cursor.so.0: cannot open shared object file: No such file or directory"
    message = missing_library_message(error)
    assert "\n" not in message
    assert "libxcb-cursor.so.0 (package libxcb-cursor0)" in message
    assert f"sudo apt-get install {' '.join(DEBIAN_PACKAGES)}" in message


def test_an_unknown_library_is_still_named():
    message = missing_library_message("libweird.so.7: cannot open shared object file: No such file or directory")
    assert "libweird.so.7 is missing" in message


def test_offscreen_needs_no_check():
    assert check_display_plugin({"QT_QPA_PLATFORM": "offscreen"}) is None
