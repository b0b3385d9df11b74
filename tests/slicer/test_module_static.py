"""Static consistency of the Slicer module, checked without Slicer (else it would only fail in Slicer)."""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).parents[2]
MODULE = ROOT / "LDEditSlicer"
SOURCE = (MODULE / "LDEditSlicer.py").read_text()
TREE = ast.parse(SOURCE)
UI = ET.parse(MODULE / "Resources" / "UI" / "LDEditSlicer.ui").getroot()
CMAKE = (MODULE / "CMakeLists.txt").read_text().replace("${MODULE_NAME}", "LDEditSlicer")


def _ui_widgets() -> dict[str, ET.Element]:
    return {w.get("name"): w for w in UI.iter("widget")}


def _classes() -> dict[str, ast.ClassDef]:
    return {node.name: node for node in TREE.body if isinstance(node, ast.ClassDef)}


def test_every_ui_widget_the_module_uses_exists_in_the_ui_file():
    used = set(re.findall(r"self\.ui\.(\w+)", SOURCE))
    assert used, "the module uses no widgets?"
    missing = used - set(_ui_widgets())
    assert not missing, f"self.ui.<name> not in LDEditSlicer.ui: {sorted(missing)}"


def test_parameter_names_in_the_ui_are_parameter_node_fields_and_back():
    node = _classes()["LDEditSlicerParameterNode"]
    fields = {s.target.id for s in node.body if isinstance(s, ast.AnnAssign)}
    bound = {}
    for widget in UI.iter("widget"):
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                bound[prop.find("string").text] = widget.get("name")
    assert set(bound) <= fields, f"SlicerParameterName without a field: {sorted(set(bound) - fields)}"
    wired_by_hand = {"segmentation", "segmentId"}  # the segment selector has no connectGui support
    assert fields - set(bound) == wired_by_hand
    for name in wired_by_hand:
        assert f"_parameterNode.{name} =" in SOURCE, f"{name} is not wired by hand"


def test_every_python_file_and_resource_is_listed_in_the_module_cmakelists():
    listed = set(re.findall(r"^\s+(\S+\.(?:py|png|ui|txt))\s*$", CMAKE, flags=re.M))
    on_disk = {
        str(p.relative_to(MODULE))
        for p in MODULE.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and p.parts[len(MODULE.parts)] != "Testing"
        and p.name not in ("CMakeLists.txt", "README.md")
    }
    assert on_disk, "nothing found under LDEditSlicer/"
    assert on_disk - listed == set(), f"not listed in LDEditSlicer/CMakeLists.txt: {sorted(on_disk - listed)}"
    assert listed - on_disk == set(), f"listed but missing: {sorted(listed - on_disk)}"
    assert "WITH_GENERIC_TESTS" in CMAKE and "slicer_add_python_unittest(SCRIPT LDEditSlicer.py)" in CMAKE


def test_the_four_classes_follow_slicer_naming_and_bases():
    classes = _classes()
    expected = {
        "LDEditSlicer": "ScriptedLoadableModule",
        "LDEditSlicerWidget": "ScriptedLoadableModuleWidget",
        "LDEditSlicerLogic": "ScriptedLoadableModuleLogic",
        "LDEditSlicerTest": "ScriptedLoadableModuleTest",
    }
    for name, base in expected.items():
        assert name in classes, f"class {name} missing"
        assert base in {b.id for b in classes[name].bases if isinstance(b, ast.Name)}
    decorators = {
        d.id for d in classes["LDEditSlicerParameterNode"].decorator_list if isinstance(d, ast.Name)
    }
    assert decorators == {"parameterNodeWrapper"}
    test_methods = [n.name for n in classes["LDEditSlicerTest"].body if isinstance(n, ast.FunctionDef)]
    assert "runTest" in test_methods and any(m.startswith("test_") for m in test_methods)


def test_the_module_imports_only_what_the_library_exports():
    import LDEditSlicerLib

    imported = {
        alias.name
        for node in TREE.body
        if isinstance(node, ast.ImportFrom) and node.module == "LDEditSlicerLib"
        for alias in node.names
    }
    assert imported and imported <= set(LDEditSlicerLib.__all__)


def test_the_module_never_imports_torch_or_ldedit_core_at_import_time():
    top = {
        alias.name.split(".")[0]
        for node in TREE.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert not top & {"torch", "ldedit_core", "monai", "nrrd", "pydicom"}, top


def test_extension_cmakelists_declares_the_extension():
    text = (ROOT / "CMakeLists.txt").read_text()
    for needed in (
        "project(LDEdit)",
        'EXTENSION_DEPENDS "PyTorch"',
        "find_package(Slicer REQUIRED)",
        "add_subdirectory(LDEditSlicer)",
        "Slicer_EXTENSION_GENERATE_CONFIG",
        "Slicer_EXTENSION_CPACK",
    ):
        assert needed in text, needed
