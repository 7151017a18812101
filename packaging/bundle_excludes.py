"""What the PyInstaller bundle leaves out (read by npe.spec and check_excludes.py)."""

# Qt modules npe does not use: it imports QtCore, QtGui, QtWidgets; QtSvg draws the SVG icons and
# qtpy (under qtawesome) loads QtOpenGL/QtOpenGLWidgets.
UNUSED_QT = [
    "PySide6." + name
    for name in (
        "Qt3DAnimation Qt3DCore Qt3DExtras Qt3DInput Qt3DLogic Qt3DRender QtAxContainer QtBluetooth QtCharts "
        "QtConcurrent QtDBus QtDataVisualization QtDesigner QtGraphs QtGraphsWidgets QtHelp QtHttpServer "
        "QtLocation QtMultimedia QtMultimediaWidgets QtNetwork QtNetworkAuth QtNfc QtPdf QtPdfWidgets "
        "QtPositioning QtPrintSupport QtQml QtQuick QtQuick3D QtQuickControls2 QtQuickWidgets QtRemoteObjects "
        "QtScxml QtSensors QtSerialBus QtSerialPort QtSpatialAudio QtSql QtStateMachine QtSvgWidgets QtTest "
        "QtTextToSpeech QtUiTools QtWebChannel QtWebEngineCore QtWebEngineQuick QtWebEngineWidgets "
        "QtWebSockets QtWebView QtXml"
    ).split()
]

# Python packages no npe command imports. torch's own Python side stays whole: `import torch` and
# the optimisers reach into torch._dynamo, torch._inductor, sympy and torch.testing.
UNUSED_PYTHON = [
    "tkinter", "_tkinter", "turtle", "idlelib", "lib2to3", "pydoc_data",
    "PyQt5", "PyQt6", "PySide2",
    "IPython", "jedi", "parso", "matplotlib", "pandas", "docutils", "sphinx",
    "pytest", "_pytest", "pytestqt", "setuptools", "pkg_resources",
    # reached only from torch.compile/inductor, torch.hub, fsspec remote files, profiler exports:
    "requests", "urllib3", "cryptography", "cffi", "OpenSSL", "fsspec", "yaml", "sqlite3", "_sqlite3",
    "psutil", "jinja2", "networkx", "triton", "optree",
    "torch.utils.tensorboard", "torch.utils.benchmark", "torch.onnx",
]

# Collected files the app never opens (fragments of their bundle paths, "/"-separated): torch's C++
# test programs and libraries, headers, cmake files and protoc; Qt translations (the app is English,
# so standard dialog buttons stay English too) and platform plugins for framebuffers, VNC and EGL
# devices. NEEDED_FILES win over UNUSED_FILES.
NEEDED_FILES = ("torch/bin/torch_shm_manager",)  # `import torch` fails without it
UNUSED_FILES = (
    "torch/test/", "torch/bin/", "torch/include/", "torch/share/", "torch/lib/cmake/",
    "torch/lib/libjitbackend_test", "torch/lib/libtorchbind_test", "torch/lib/libbackend_with_compiler",
    "torch/lib/libaoti_custom_ops",
    "PySide6/Qt/translations/", "PySide6/Qt/plugins/platforms/libqvnc", "PySide6/Qt/plugins/platforms/libqeglfs",
    "PySide6/Qt/plugins/platforms/libqlinuxfb", "PySide6/Qt/plugins/platforms/libqvkkhrdisplay",
    "PySide6/Qt/plugins/platforms/libqminimalegl", "PySide6/Qt/plugins/egldeviceintegrations/",
    "PySide6/Qt/lib/libQt6EglFs",
)


def is_needed(destination: str) -> bool:
    """Whether a file at this bundle path is kept."""
    destination = destination.replace("\\", "/")
    return destination in NEEDED_FILES or not any(part in destination for part in UNUSED_FILES)
