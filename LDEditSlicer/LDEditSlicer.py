"""LDEditSlicer: paint a region on a chest radiograph, Apply, browse synthetic follow-ups as a Sequence.

MRML glue only. The work runs in a separate PythonSlicer process (``ldedit edit --json-progress``), so torch
never loads into Slicer and the GUI never freezes; building the command, the process runner, NRRD geometry
and reading the results live in the MRML-free ``LDEditSlicerLib`` (tested with pytest outside Slicer).
Research use only: every output is synthetic and not for diagnosis.
"""

import logging
import os
import shutil
import sys
import tempfile
from typing import Annotated

import qt
import slicer
import vtk
from LDEditSlicerLib import (
    EditParameters,
    EditProcess,
    build_edit_command,
    describe_torch,
    device_choices,
    device_problem,
    followup_arrays,
    load_results,
    run_blocking,
    write_mask_nrrd,
    write_volume_nrrd,
)
from slicer.parameterNodeWrapper import WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

DEFAULT_DISEASES = ["cardiomegaly", "effusion", "edema", "nodule"]
RESOURCES = os.path.join(os.path.dirname(__file__), "Resources")


class LDEditSlicer(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "LDEdit"
        self.parent.categories = ["Utilities"]
        self.parent.dependencies = []
        self.parent.contributors = ["LDEdit developers"]
        self.parent.helpText = (
            "Synthesize gradual disease follow-ups of a chest radiograph inside a painted region. "
            "Choose the radiograph, paint the region in Segment Editor, pick the disease and press Apply. "
            "The follow-ups appear as a Sequence (use the slider) and as DICOM studies in the DICOM "
            "database. "
            "Research use only: every output is synthetic and not for diagnosis."
        )
        self.parent.acknowledgementText = "LDEdit: latent-space disease editing with Link-LR and Link-PCA."


@parameterNodeWrapper
class LDEditSlicerParameterNode:
    """Settings saved with the scene. The segment id is wired by hand (no connectGui for segments)."""

    inputVolume: slicer.vtkMRMLScalarVolumeNode
    segmentation: slicer.vtkMRMLSegmentationNode
    segmentId: str = ""
    disease: str = "cardiomegaly"
    followups: Annotated[int, WithinRange(1, 50)] = 10
    intervalDays: Annotated[float, WithinRange(1, 3650)] = 90.0
    target: Annotated[float, WithinRange(0.01, 0.99)] = 0.9
    regress: bool = False
    bundleFolder: str = ""
    device: str = "auto"


class LDEditSlicerWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._process = None
        self._cancelRequested = False
        self._outDir = None
        self._timer = qt.QTimer()
        self._timer.setInterval(200)
        self._timer.timeout.connect(self._poll)

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/LDEditSlicer.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = LDEditSlicerLogic()

        self.ui.diseaseComboBox.addItems(DEFAULT_DISEASES)
        # GPUs are listed when Advanced is opened: probing torch takes a few seconds in another process
        self.ui.deviceComboBox.addItems(["auto", "cpu"])
        self._torchInfo = None
        self.ui.advancedCollapsibleButton.connect("contentsCollapsed(bool)", self._onAdvancedToggled)
        self.ui.segmentSelector.connect("currentSegmentChanged(QString)", self._onSegmentChanged)
        self.ui.segmentSelector.connect("currentNodeChanged(vtkMRMLNode*)", self._onSegmentationChanged)
        self.ui.editSegmentsButton.connect("clicked(bool)", self.onEditSegments)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.initializeParameterNode()

    def cleanup(self):
        self._cancel()
        self.removeObservers()

    def enter(self):
        self.initializeParameterNode()

    def exit(self):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateApply)

    def onSceneStartClose(self, caller, event):
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event):
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self):
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            volume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if volume:
                self._parameterNode.inputVolume = volume

    def setParameterNode(self, inputParameterNode: LDEditSlicerParameterNode | None):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateApply)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateApply)
            # the segment selector is not a connectGui widget: mirror it by hand
            self.ui.segmentSelector.setCurrentNode(self._parameterNode.segmentation)
            if self._parameterNode.segmentId:
                self.ui.segmentSelector.setCurrentSegmentID(self._parameterNode.segmentId)
            self._updateApply()

    def torchInfo(self) -> dict:
        """What torch offers, probed once in PythonSlicer so torch never loads into Slicer itself."""
        if self._torchInfo is None:
            self._torchInfo = describe_torch(python=self.logic.pythonSlicer())
        return self._torchInfo

    def _onAdvancedToggled(self, collapsed):
        if collapsed or self.ui.deviceComboBox.count > 2:
            return
        with slicer.util.tryWithErrorDisplay("Could not list the GPUs.", waitCursor=True):
            for choice in device_choices(self.torchInfo()):
                if self.ui.deviceComboBox.findText(choice) < 0:
                    self.ui.deviceComboBox.addItem(choice)

    def _onSegmentationChanged(self, node):
        if self._parameterNode:
            self._parameterNode.segmentation = node

    def _onSegmentChanged(self, segmentId):
        if self._parameterNode:
            self._parameterNode.segmentId = segmentId or ""

    def _updateApply(self, caller=None, event=None):
        if self._process is not None:
            self.ui.applyButton.text = "Cancel"
            self.ui.applyButton.enabled = True
            return
        p = self._parameterNode
        ready = bool(p and p.inputVolume and p.segmentation and p.segmentId)
        self.ui.applyButton.text = "Apply"
        self.ui.applyButton.enabled = ready
        self.ui.applyButton.toolTip = (
            "Synthesize the follow-ups" if ready else "Choose a radiograph and paint a segment first"
        )

    def onEditSegments(self):
        """Open Segment Editor on this volume and segmentation (a new one if none is chosen)."""
        p = self._parameterNode
        if not p.inputVolume:
            slicer.util.errorDisplay("Choose the radiograph first.")
            return
        if not p.segmentation:
            p.segmentation = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "LDEdit region")
            p.segmentation.CreateDefaultDisplayNodes()
            p.segmentation.SetReferenceImageGeometryParameterFromVolumeNode(p.inputVolume)
            self.ui.segmentSelector.setCurrentNode(p.segmentation)
        if p.segmentation.GetSegmentation().GetNumberOfSegments() == 0:
            p.segmentId = p.segmentation.GetSegmentation().AddEmptySegment("", p.disease)
            self.ui.segmentSelector.setCurrentSegmentID(p.segmentId)
        slicer.util.selectModule("SegmentEditor")
        editor = slicer.modules.segmenteditor.widgetRepresentation().self().editor
        editor.setSegmentationNode(p.segmentation)
        editor.setSourceVolumeNode(p.inputVolume)

    # --- running ------------------------------------------------------------------------------------------

    def onApplyButton(self):
        if self._process is not None:
            self._cancel()
            return
        with slicer.util.tryWithErrorDisplay("LDEdit could not start.", waitCursor=True):
            p = self._parameterNode
            if not self.logic.ensureDependencies(ask=True):
                return
            problem = device_problem(self.torchInfo(), p.device)
            if problem and not slicer.util.confirmOkCancelDisplay(problem + "\n\nContinue on the CPU?"):
                return
            device = "cpu" if problem else p.device
            self._outDir = tempfile.mkdtemp(prefix="ldedit-") + "/out"
            command = self.logic.command(p, self._outDir, device=device)
            self._process = EditProcess(command)
            self._cancelRequested = False
            self._process.start()
            self.ui.progressBar.value = 0
            self.ui.statusLabel.text = "Starting..."
            self._timer.start()
            self._updateApply()

    def _poll(self):
        """Qt timer: show the subprocess's progress events; load the results when it ends."""
        process = self._process
        if process is None:
            return
        for event in process.poll_events():
            if "fraction" in event:
                self.ui.progressBar.value = int(100 * float(event["fraction"]))
                self.ui.progressBar.format = f"{event.get('stage', '')} %p%"
            if event.get("message"):
                self.ui.statusLabel.text = str(event["message"])
        if process.running:
            return
        self._timer.stop()
        self._process = None
        self._updateApply()
        if process.returncode == 0:
            with slicer.util.tryWithErrorDisplay("Could not load the follow-ups.", waitCursor=True):
                p = self._parameterNode
                self.logic.loadResults(self._outDir, p.inputVolume)
                self.ui.statusLabel.text = load_results(self._outDir, read_dates=False).status_message
                self.ui.progressBar.value = 100
        elif self._cancelRequested:
            self.ui.statusLabel.text = "Cancelled; nothing was written."
        else:
            self.ui.statusLabel.text = process.error_message
            slicer.util.errorDisplay(process.error_message, windowTitle="LDEdit")

    def _cancel(self):
        if self._process is not None:
            self.ui.statusLabel.text = "Cancelling..."
            self._cancelRequested = True
            self._process.cancel()


class LDEditSlicerLogic(ScriptedLoadableModuleLogic):
    """Usable without the GUI: ``run(...)`` is the blocking path for scripts and the self-test."""

    def getParameterNode(self):
        return LDEditSlicerParameterNode(super().getParameterNode())

    def ensureDependencies(self, ask: bool = True) -> bool:
        """torch through the PyTorch extension, then ldedit_core and its requirements, after asking."""
        try:
            import PyTorchUtils
        except ModuleNotFoundError:
            slicer.util.errorDisplay(
                "LDEdit needs the PyTorch extension: install it from the Extensions Manager."
            )
            return False
        torchLogic = PyTorchUtils.PyTorchUtilsLogic()
        if not torchLogic.torchInstalled():
            if ask and not slicer.util.confirmOkCancelDisplay("LDEdit needs PyTorch. Install it now?"):
                return False
            torchLogic.installTorch(askConfirmation=False)
        try:
            import ldedit_core  # noqa: F401

            return True
        except ModuleNotFoundError:
            pass
        if ask and not slicer.util.confirmOkCancelDisplay(
            "LDEdit needs its Python packages. Install them now?"
        ):
            return False
        checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        if os.path.isfile(os.path.join(checkout, "pyproject.toml")) and os.path.isdir(
            os.path.join(checkout, "ldedit_core")
        ):  # the module runs from a source checkout: install exactly that code
            slicer.util.pip_install([checkout])
            return True
        requirements = os.path.join(RESOURCES, "requirements.txt")
        pydeps = getattr(slicer, "pydeps", None)
        if pydeps is not None and hasattr(pydeps, "pip_ensure"):  # Slicer >= 5.11
            pydeps.pip_ensure(pydeps.load_requirements(requirements), requester="LDEdit")
        else:
            slicer.util.pip_install(["-r", requirements])
        return True

    def pythonSlicer(self) -> str:
        """The Python that runs ``ldedit edit`` outside Slicer's process: PythonSlicer in an install."""
        return shutil.which("PythonSlicer") or sys.executable

    def prepareInputs(self, volumeNode, segmentationNode, segmentId: str, workDir: str):
        """(radiograph path, mask path): the DICOM source file if the volume came from DICOM, else a NRRD."""
        os.makedirs(workDir, exist_ok=True)
        source = None
        uids = (volumeNode.GetAttribute("DICOM.instanceUIDs") or "").split()
        if uids and slicer.dicomDatabase:
            source = slicer.dicomDatabase.fileForInstance(uids[0]) or None
        ijkToRas = vtk.vtkMatrix4x4()
        volumeNode.GetIJKToRASMatrix(ijkToRas)
        matrix = slicer.util.arrayFromVTKMatrix(ijkToRas)
        if source is None:
            source = os.path.join(workDir, "radiograph.nrrd")
            write_volume_nrrd(slicer.util.arrayFromVolume(volumeNode), matrix, source)
        mask = slicer.util.arrayFromSegmentBinaryLabelmap(segmentationNode, segmentId, volumeNode)
        maskPath = os.path.join(workDir, "region.nrrd")
        write_mask_nrrd(mask, matrix, maskPath)
        return source, maskPath

    def command(self, p: LDEditSlicerParameterNode, outDir: str, device: str = ""):
        workDir = os.path.join(os.path.dirname(outDir), "inputs")
        inputPath, maskPath = self.prepareInputs(p.inputVolume, p.segmentation, p.segmentId, workDir)
        params = EditParameters(
            input_path=inputPath,
            mask_path=maskPath,
            segment=None,
            disease=p.disease,
            followups=p.followups,
            interval_days=p.intervalDays,
            target=p.target,
            regress=p.regress,
            device=device or p.device,
            bundle=p.bundleFolder,
            out_dir=outDir,
        )
        return build_edit_command(params, ldedit=[self.pythonSlicer(), "-m", "ldedit_core.cli.main"])

    def run(self, p: LDEditSlicerParameterNode, outDir: str, device: str = "cpu"):
        """Blocking: edit, then load the results; returns what :meth:`loadResults` returns."""
        code, _events, error = run_blocking(self.command(p, outDir, device=device))
        if code != 0:
            raise RuntimeError(error)
        return self.loadResults(outDir, p.inputVolume)

    def loadResults(self, outDir: str, sourceVolume):
        """Follow-ups as volumes (source geometry) in a Sequence, each under its own study; DICOM import;
        the ROI used as a segment; the probability curve in a plot view. Returns the sequence browser."""
        results = load_results(outDir)
        ijkToRas = vtk.vtkMatrix4x4()
        sourceVolume.GetIJKToRASMatrix(ijkToRas)
        shNode = slicer.mrmlScene.GetSubjectHierarchyNode()
        patientItem = shNode.GetItemParent(shNode.GetItemParent(shNode.GetItemByDataNode(sourceVolume)))
        if not patientItem:  # not loaded from DICOM: a subject of its own holds the synthetic studies
            patientItem = shNode.CreateSubjectItem(shNode.GetSceneItemID(), "LDEdit synthetic patient")
        sequence = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSequenceNode", f"LDEdit {results.disease}")
        for k, array in enumerate(followup_arrays(results)):
            name = f"{sourceVolume.GetName()} follow-up {k + 1} (day {results.days[k + 1]:g}, synthetic)"
            volume = slicer.util.addVolumeFromArray(array[None], ijkToRas, name)
            sequence.SetDataNodeAtValue(volume, str(k + 1))
            study = shNode.CreateStudyItem(patientItem, f"Synthetic follow-up {k + 1}")
            shNode.SetItemParent(shNode.GetItemByDataNode(volume), study)
        browser = slicer.mrmlScene.AddNewNodeByClass(
            "vtkMRMLSequenceBrowserNode", f"LDEdit {results.disease}"
        )
        browser.SetAndObserveMasterSequenceNodeID(sequence.GetID())
        slicer.modules.sequences.showSequenceBrowser(browser)
        proxy = browser.GetProxyNode(sequence)
        slicer.util.setSliceViewerLayers(background=proxy, fit=True)
        self._importDicom(results)
        self._showRoi(results, sourceVolume)
        self._plotProbabilities(results)
        return browser

    def _importDicom(self, results):
        from DICOMLib import DICOMUtils

        if results.followup_paths:
            DICOMUtils.importDicom(os.path.dirname(results.followup_paths[0]))

    def _showRoi(self, results, sourceVolume):
        if not results.roi_path:
            return
        labelmap = slicer.util.loadLabelVolume(results.roi_path)
        segmentation = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "LDEdit ROI used")
        segmentation.SetReferenceImageGeometryParameterFromVolumeNode(sourceVolume)
        slicer.modules.segmentations.logic().ImportLabelmapToSegmentationNode(labelmap, segmentation)
        slicer.mrmlScene.RemoveNode(labelmap)

    def _plotProbabilities(self, results):
        table = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", "LDEdit probabilities")
        slicer.util.updateTableFromArray(
            table,
            [list(range(len(results.probabilities))), list(results.probabilities)],
            ["frame", "probability"],
        )
        series = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", f"p({results.disease})")
        series.SetAndObserveTableNodeID(table.GetID())
        series.SetXColumnName("frame")
        series.SetYColumnName("probability")
        series.SetPlotType(series.PlotTypeScatter)
        chart = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLPlotChartNode", "LDEdit")
        chart.AddAndObservePlotSeriesNodeID(series.GetID())
        chart.SetXAxisTitle("follow-up")
        chart.SetYAxisTitle(f"{results.disease} probability (evaluator)")
        slicer.modules.plots.logic().ShowChartInLayout(chart)


class LDEditSlicerTest(ScriptedLoadableModuleTest):
    """The whole flow in Slicer: phantom volume, heart segment, blocking run, Sequence, DICOM, geometry."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_LDEditSlicer1()

    def test_LDEditSlicer1(self):
        import numpy as np

        logic = LDEditSlicerLogic()
        self.assertTrue(logic.ensureDependencies(ask=False))
        from ldedit_core.phantoms import make_phantom

        phantom = make_phantom(7, size=128)
        ijkToRas = np.diag([-0.5, -0.5, 1.0, 1.0])  # 0.5 mm pixels, LPS-style image axes
        ijkToRas[:3, 3] = [10.0, 20.0, 0.0]
        volume = slicer.util.addVolumeFromArray(phantom.image[None].astype(np.float32), ijkToRas, "phantom")
        segmentation = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "region")
        segmentation.SetReferenceImageGeometryParameterFromVolumeNode(volume)
        segmentId = segmentation.GetSegmentation().AddEmptySegment("heart", "cardiomegaly")
        slicer.util.updateSegmentBinaryLabelmapFromArray(
            phantom.masks["heart"][None].astype(np.uint8), segmentation, segmentId, volume
        )
        p = logic.getParameterNode()
        p.inputVolume, p.segmentation, p.segmentId = volume, segmentation, segmentId
        p.disease, p.followups = "cardiomegaly", 3

        outDir = os.path.join(tempfile.mkdtemp(), "out")
        browser = logic.run(p, outDir, device="cpu")

        sequence = browser.GetMasterSequenceNode()
        self.assertEqual(sequence.GetNumberOfDataNodes(), 3)
        first = sequence.GetNthDataNode(0)
        got = vtk.vtkMatrix4x4()
        first.GetIJKToRASMatrix(got)
        self.assertTrue(np.allclose(slicer.util.arrayFromVTKMatrix(got), ijkToRas))
        self.assertEqual(slicer.util.arrayFromVolume(first).shape, (1, 128, 128))
        import pydicom

        results = load_results(outDir)
        self.assertEqual(len(results.followup_paths), 3)
        for path in results.followup_paths:  # every follow-up was imported into the DICOM database
            uid = pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID
            self.assertTrue(slicer.dicomDatabase.fileForInstance(uid))
        logging.info("LDEditSlicer self-test passed")
