"""Data set parsers (CheXpert, NIH, MIMIC-CXR-JPG, generic CSV, phantoms) and pixel loading."""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ldedit_core.errors import InputError
from ldedit_core.io import write_radiograph_dicom
from ldedit_core.phantoms import DISEASES
from ldedit_core.training.datasets import (
    Record,
    chexpert_records,
    dataset_records,
    detect_format,
    generic_records,
    load_labelled_images,
    load_records,
    mimic_records,
    nih_records,
)

CHEXPERT_HEADER = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", "No Finding", "Cardiomegaly"]
CHEXPERT_HEADER += ["Lung Lesion", "Edema", "Pleural Effusion"]


def _csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _png(path: Path, value: float = 0.5, shape: tuple[int, int] = (40, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(path)))
    img = np.clip(value + 0.05 * rng.standard_normal(shape), 0, 1)
    Image.fromarray(np.round(img * 255).astype(np.uint8)).save(path)
    return path


def _labels(rec: Record) -> list[float]:
    return rec.label_vector()


@pytest.fixture
def chexpert(tmp_path):
    root = tmp_path / "CheXpert-v1.0-small"
    prefix = "CheXpert-v1.0-small/train"
    rows = [
        # path, sex, age, view, ap/pa | no finding, cardiomegaly, lung lesion, edema, effusion
        [
            f"{prefix}/patient1/study1/view1_frontal.jpg",
            "Male",
            60,
            "Frontal",
            "PA",
            "",
            "1.0",
            "",
            "-1.0",
            "0.0",
        ],
        [f"{prefix}/patient1/study1/view2_lateral.jpg", "Male", 60, "Lateral", "", "", "1.0", "", "", ""],
        [
            "train/patient2/study1/view1_frontal.jpg",
            "Female",
            40,
            "Frontal",
            "AP",
            "1.0",
            "0.0",
            "1.0",
            "",
            "-1.0",
        ],
    ]
    _csv(root / "train.csv", CHEXPERT_HEADER, rows)
    _png(root / "train/patient1/study1/view1_frontal.jpg")
    _png(root / "train/patient1/study1/view2_lateral.jpg")
    _png(root / "train/patient2/study1/view1_frontal.jpg")
    return root


@pytest.mark.parametrize(
    ("policy", "first", "second"),
    [
        ("zeros", [1, 0, 0, 0], [0, 0, 0, 1]),
        ("ones", [1, 0, 1, 0], [0, 1, 0, 1]),
        ("ignore", [1, 0, math.nan, 0], [0, math.nan, 0, 1]),
    ],
)
def test_chexpert_uncertainty_policies_and_frontal_only(chexpert, policy, first, second):
    # canonical order: cardiomegaly, effusion, edema, nodule
    assert DISEASES == ("cardiomegaly", "effusion", "edema", "nodule")
    records = chexpert_records(chexpert, uncertainty=policy)
    assert len(records) == 2  # the lateral view is dropped
    assert records[0].path == chexpert / "train/patient1/study1/view1_frontal.jpg"  # folder name stripped
    assert records[1].path == chexpert / "train/patient2/study1/view1_frontal.jpg"
    np.testing.assert_array_equal(_labels(records[0]), first)
    np.testing.assert_array_equal(_labels(records[1]), second)


def test_chexpert_is_detected_and_loaded(chexpert):
    assert detect_format(chexpert) == ("chexpert", chexpert)
    assert detect_format(chexpert / "train.csv") == ("chexpert", chexpert)
    images, labels = load_labelled_images(chexpert, 16)
    assert images.shape == (2, 1, 16, 16) and images.dtype == torch.uint8
    assert labels.shape == (2, 4) and labels.dtype == torch.float32
    with pytest.raises(ValueError, match=r"uncertainty.*did you mean 'ones'"):
        chexpert_records(chexpert, uncertainty="one")
    with pytest.raises(InputError, match="not 1, 0, -1"):
        _csv(
            chexpert / "train.csv",
            CHEXPERT_HEADER,
            [["a.png", "", "", "Frontal", "", "", "maybe", "", "", ""]],
        )
        chexpert_records(chexpert)


def test_nih_pipe_labels_views_and_image_folders(tmp_path):
    header = ["Image Index", "Finding Labels", "Follow-up #", "Patient ID", "View Position"]
    rows = [
        ["00000001_000.png", "Cardiomegaly|Effusion", 0, 1, "PA"],
        ["00000001_001.png", "Mass", 1, 1, "AP"],
        ["00000002_000.png", "No Finding", 0, 2, "PA"],
        ["00000003_000.png", "Nodule|Edema|Pneumonia", 0, 3, "LL"],
        ["00000004_000.png", "Edema|Nodule", 0, 4, "AP"],
    ]
    _csv(tmp_path / "Data_Entry_2017.csv", header, rows)
    for i, row in enumerate(rows):
        _png(tmp_path / ("images_001/images" if i < 3 else "images_002/images") / row[0])
    records = nih_records(tmp_path)
    assert [r.path.name for r in records] == [rows[i][0] for i in (0, 1, 2, 4)]
    assert records[0].path.parent == tmp_path / "images_001" / "images"
    assert records[3].path.parent == tmp_path / "images_002" / "images"
    np.testing.assert_array_equal(
        [_labels(r) for r in records], [[1, 1, 0, 0], [0, 0, 0, 1], [0] * 4, [0, 0, 1, 1]]
    )
    assert detect_format(tmp_path) == ("nih", tmp_path)
    images, labels = load_labelled_images(tmp_path, 16, limit=2)
    assert images.shape == (2, 1, 16, 16) and labels.tolist() == [[1, 1, 0, 0], [0, 0, 0, 1]]


def test_mimic_join_views_and_paths(tmp_path):
    meta = ["dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription", "ViewPosition"]
    _csv(
        tmp_path / "mimic-cxr-2.0.0-metadata.csv",
        meta,
        [
            ["d1", 10000032, 50414267, "CHEST (PA AND LAT)", "PA"],
            ["d2", 10000032, 50414267, "CHEST (PA AND LAT)", "LATERAL"],
            ["d3", 11000011, 51000000, "CHEST (PORTABLE AP)", "AP"],
            ["d4", 12000000, 52000000, "CHEST (PORTABLE AP)", "AP"],  # study without labels
        ],
    )
    labels = ["subject_id", "study_id", "Cardiomegaly", "Edema", "Lung Lesion", "Pleural Effusion"]
    _csv(
        tmp_path / "mimic-cxr-2.0.0-chexpert.csv",
        labels,
        [[10000032, 50414267, "1.0", "-1.0", "", "0.0"], [11000011, 51000000, "", "", "1.0", "1.0"]],
    )
    records = mimic_records(tmp_path, uncertainty="ones")
    assert [r.path for r in records] == [
        tmp_path / "files/p10/p10000032/s50414267/d1.jpg",
        tmp_path / "files/p11/p11000011/s51000000/d3.jpg",
    ]
    np.testing.assert_array_equal([_labels(r) for r in records], [[1, 0, 1, 0], [0, 1, 0, 1]])
    for rec, shape in zip(records, [(50, 40), (30, 40)], strict=True):
        _png(rec.path, shape=shape)  # PIL writes JPEG for the .jpg name
    assert detect_format(tmp_path)[0] == "mimic"
    images, _ = load_labelled_images(tmp_path, 8, uncertainty="ones")
    assert images.shape == (2, 1, 8, 8)


def test_generic_csv_with_png_and_dicom(tmp_path):
    rng = np.random.default_rng(0)
    write_radiograph_dicom(rng.uniform(0.2, 0.8, (48, 40)), tmp_path / "img" / "a.dcm", patient_id="P1")
    _png(tmp_path / "img" / "b.png")
    csv_path = _csv(
        tmp_path / "labels.csv",
        ["path", "Cardiomegaly", "effusion", "Pleural Effusion_unused", "nodule"],
        [["img/a.dcm", 1, 0, 9, 1], [str(tmp_path / "img" / "b.png"), 0, 1, 9, ""]],
    )
    records = generic_records(csv_path)
    assert records[0].path == tmp_path / "img" / "a.dcm" and records[1].path == tmp_path / "img" / "b.png"
    np.testing.assert_array_equal([_labels(r) for r in records], [[1, 0, math.nan, 1], [0, 1, math.nan, 0]])
    assert detect_format(csv_path) == ("generic", csv_path)
    images, labels = load_labelled_images(csv_path, 16)
    assert images.shape == (2, 1, 16, 16) and torch.isnan(labels[:, 2]).all()
    with pytest.raises(InputError, match="no 'path' column"):
        generic_records(_csv(tmp_path / "bad.csv", ["file", "edema"], [["x.png", 1]]))
    with pytest.raises(InputError, match="no disease column"):
        generic_records(_csv(tmp_path / "bad2.csv", ["path", "pneumonia"], [["x.png", 1]]))


def test_phantom_layout_is_chexpert(tmp_path):
    from ldedit_core.cli import phantoms_cmd

    phantoms_cmd.run(
        argparse.Namespace(out=tmp_path, n=3, size=64, format="chexpert", seed=5, bits=8, masks=False)
    )
    images, labels = load_labelled_images(tmp_path, 32)
    assert images.shape == (3, 1, 32, 32) and images.float().mean() > 20
    with open(tmp_path / "train.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    columns = ("Cardiomegaly", "Pleural Effusion", "Edema", "Lung Lesion")
    assert labels.tolist() == [[float(r[c]) for c in columns] for r in rows]


def test_portrait_image_is_padded_to_a_centred_square_not_cropped(tmp_path):
    path = tmp_path / "tall.png"
    Image.fromarray(np.full((64, 32), 255, np.uint8)).save(path)
    images = load_records([Record(path, dict.fromkeys(DISEASES, 0.0))], 16).images[0, 0]
    assert images[:, 4:12].min() == 255  # the whole height survives
    assert images[:, :4].max() == 0 and images[:, 12:].max() == 0  # zero (air) padding left and right


def test_broken_files_are_skipped_and_counted(tmp_path, caplog):
    good = _png(tmp_path / "good.png")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    missing = tmp_path / "missing.png"
    records = [Record(p, dict.fromkeys(DISEASES, 1.0)) for p in (broken, good, missing)]
    loaded = load_records(records, 8)
    assert loaded.images.shape == (1, 1, 8, 8) and loaded.paths == [good]
    assert [p for p, _ in loaded.skipped] == [broken, missing]
    assert "broken.png" in caplog.text and "missing.png" in caplog.text
    with pytest.raises(InputError, match="no readable images"):
        load_records(records[:1], 8)


def test_empty_and_unknown_data_sets(tmp_path):
    _csv(tmp_path / "empty" / "train.csv", CHEXPERT_HEADER, [])
    with pytest.raises(InputError, match="no \\(frontal\\) images"):
        load_labelled_images(tmp_path / "empty", 16)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(InputError, match=r"no train\.csv"):
        load_labelled_images(tmp_path / "nothing", 16)
    with pytest.raises(InputError, match="no such file"):
        dataset_records(tmp_path / "absent")
    with pytest.raises(ValueError, match=r"fmt.*did you mean 'nih'"):
        dataset_records(tmp_path / "empty", fmt="nhi")
    with pytest.raises(ValueError, match="limit"):
        load_labelled_images(tmp_path / "empty", 16, limit=0)
