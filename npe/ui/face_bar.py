"""The bar above the canvas that asks about the face box after a photo opens, without blocking the
window (the box stays visible under it): a doubtful face ("Is this the face? Use it / Adjust the
box / Use the whole image"), several faces (pick one, largest first, in the list or by clicking
its outline on the photo), or none (the whole image is used; place the box by hand)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from npe.ui.canvas import Tool
from npe.ui.facebox import PICK_HINT, same_box
from npe.ui.frames import SourceInfo

if TYPE_CHECKING:
    from npe.editing.face_choice import FaceReport
    from npe.ui.main_window import MainWindow


class FaceBar(QFrame):
    """See the module doc. ``show_report`` fills it in; it hides itself once the user answers."""

    useFace = Signal()  # "this is the face": nothing to change
    adjustBox = Signal()  # switch to the Face box tool
    wholeImage = Signal()  # use the largest centred square instead
    faceChosen = Signal(int)  # face K of the report (largest first)
    dismissed = Signal()  # the user answered (any button) or went on editing: the bar hid

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("faceBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.message = QLabel()
        self.faces = QComboBox()
        self.faces.setToolTip("The faces found, largest first")
        self.faces.activated.connect(self.faceChosen.emit)
        self.use_button = QPushButton("Use it")
        self.adjust_button = QPushButton("Adjust the box")
        self.whole_button = QPushButton("Use the whole image")
        self.close_button = QPushButton("OK")
        for button, signal in ((self.use_button, self.useFace), (self.adjust_button, self.adjustBox),
                               (self.whole_button, self.wholeImage), (self.close_button, None)):
            button.clicked.connect(self.dismiss)
            if signal is not None:
                button.clicked.connect(signal.emit)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.message, 1)
        for widget in (self.faces, self.use_button, self.adjust_button, self.whole_button, self.close_button):
            layout.addWidget(widget)
        self.report: FaceReport | None = None
        self.hide()

    def choose(self, index: int) -> None:
        """Pick face ``index`` as choosing it in the list does (a click on its outline on the photo)."""
        self.faces.setCurrentIndex(index)
        self.faceChosen.emit(index)

    def dismiss(self) -> None:
        self.hide()
        self.dismissed.emit()

    @property
    def asking_which_face(self) -> bool:
        """The bar is up with the list of several faces."""
        return not self.isHidden() and not self.faces.isHidden()

    def show_report(self, report: FaceReport | None) -> None:
        """Ask what ``report`` calls for; a single confident face (or none to ask about) hides the bar."""
        self.report = report
        faces = report.faces if report is not None else ()
        several = len(faces) > 1
        if report is None or report.how == "by-hand" or (report.how == "confident" and not several):
            self.hide()
            return
        if report.doubtful:
            assert report.chosen is not None  # a doubtful face in use is the one chosen
            face = faces[report.chosen]
            text = f"Is this the face? (score {face.score:.2f}, doubtful)"
        elif not faces:
            text = "No face was found: the whole image is used. You can place the face box by hand."
        elif report.how == "whole-image":
            text = f"The whole image is used; {len(faces)} face{'s were' if several else ' was'} found."
        else:
            text = f"{len(faces)} faces found:"
        self.message.setText(text)
        self.message.setToolTip(report.summary())
        self.faces.clear()
        for number, face in enumerate(faces):
            verdict = "" if face.confident else ", doubtful"
            self.faces.addItem(f"Face {number}{' (largest)' if number == 0 else ''}: {face.box[2]:.0f} px{verdict}")
        self.faces.setVisible(several)
        if report.chosen is not None:
            self.faces.setCurrentIndex(report.chosen)
        self.use_button.setVisible(report.doubtful)
        self.whole_button.setVisible(report.how != "whole-image")
        self.adjust_button.setText("Place the box by hand" if not faces else "Adjust the box")
        self.close_button.setVisible(not report.doubtful)
        self.show()


def above(bar: QWidget, canvas: QWidget) -> QWidget:
    """The window's central widget: the bar (hidden until it asks) above the canvas."""
    central = QWidget()
    layout = QVBoxLayout(central)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    layout.addWidget(bar)
    layout.addWidget(canvas, 1)
    return central


class FaceBoxWiring:
    """Connects the window's face-box parts: the controller's ``facesFound`` to the bar and the
    canvas's overlay, the bar's answers, clicks on the other faces and the Face box tool's drags to
    re-encoding jobs.

    The other faces are offered on the photo exactly while the bar lists them: clicking one is
    choosing it in the list. They go when the bar is answered, and when the user starts editing
    (a brush or protect stroke, or a wheel spin) on the face in use, which answers "which face"
    (the bar hides too, unless it asks whether a doubtful face is the face). The Face box tool
    shows them whatever the bar does."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.report: FaceReport | None = None
        c, canvas, bar = window.controller, window.canvas, window.face_bar
        c.facesFound.connect(self.faces_found)
        c.sourceChanged.connect(self._source_changed)
        c.failed.connect(self._failed)
        canvas.boxEdited.connect(lambda box: self.set_box(box, "Move face box"))
        canvas.faceClicked.connect(bar.choose)
        canvas.faceHovered.connect(self._face_hovered)
        for gesture in (canvas.strokeStarted, canvas.protectStarted, canvas.lightenRequested):
            gesture.connect(self._editing_started)
        bar.dismissed.connect(self._stop_offering)
        bar.useFace.connect(self._confirmed)
        bar.adjustBox.connect(lambda: window.set_tool(Tool.FACE_BOX))
        bar.wholeImage.connect(self._whole_image)
        bar.faceChosen.connect(self._face_chosen)

    def faces_found(self, report: FaceReport) -> None:
        """A photo opened: show its box (and the other faces) and ask what the report calls for."""
        self.report = report
        overlay = self.window.canvas.face_box
        overlay.candidates = [face.box for face in report.faces]
        overlay.doubtful = report.doubtful
        self.window.named_actions["show-face-box"].setChecked(True)
        self.window.canvas.set_show_face_box(True)
        self.window.face_bar.show_report(report)
        overlay.offering = self.window.face_bar.asking_which_face
        self.window.canvas.update()
        if len(report.faces) > 1 or report.doubtful:
            self.window.statusBar().showMessage(report.summary(), 8000)
            self.window.canvas.fit()  # the whole photo, so every face found (or the doubtful box) can be seen and picked

    def set_box(self, box: tuple[float, float, float, float], label: str) -> None:
        self.window.canvas.face_box.doubtful = False  # the user has placed or picked it
        self.window.controller.set_face_box(box, label)

    def _source_changed(self, source: SourceInfo) -> None:
        overlay = self.window.canvas.face_box
        if source.is_sample:  # a generated face has no box to ask about
            overlay.candidates = []
            overlay.doubtful = False
            overlay.offering = False
            self.window.face_bar.hide()
            return
        # The list shows the face in use, whichever way it was chosen (list, click, undo, redo).
        index = next((i for i, other in enumerate(overlay.candidates) if same_box(other, source.box)), None)
        if index is not None and index < self.window.face_bar.faces.count():
            self.window.face_bar.faces.setCurrentIndex(index)

    def _failed(self, _failure: object) -> None:
        """A job failed: a released box the document did not take goes back to the document's."""
        self.window.canvas.face_box.revert()
        self.window.canvas.update()

    def _editing_started(self, *_gesture: object) -> None:
        bar = self.window.face_bar
        if self.window.canvas.face_box.offering and not self.window.canvas.face_box.doubtful:
            bar.dismiss()

    def _stop_offering(self) -> None:
        self.window.canvas.face_box.offering = False
        self.window.canvas.update()

    def _face_hovered(self, index: int | None) -> None:
        status = self.window.statusBar()
        if index is not None:
            status.showMessage(PICK_HINT)
        elif status.currentMessage() == PICK_HINT:
            status.clearMessage()

    def _confirmed(self) -> None:
        self.window.canvas.face_box.doubtful = False
        self.window.canvas.update()

    def _whole_image(self) -> None:
        source = self.window.controller.source
        if source is not None:
            width, height = source.photo_size
            self.set_box((width / 2, height / 2, float(min(width, height)), 0.0), "Use whole image")

    def _face_chosen(self, index: int) -> None:
        if self.report is not None and 0 <= index < len(self.report.faces):
            self.set_box(self.report.faces[index].box, f"Choose face {index}")
