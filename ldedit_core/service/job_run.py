"""One job's edit: which images of the study, which ROI and disease, then the pipeline, then files to send.

For every frontal radiograph (CR/DX/SC whose ViewPosition is not lateral) of the job:

- a DICOM SEG of the study that references the image gives the ROI (its first segment whose label names a
  disease, through ``[seg_labels]`` or the bundle's disease names; else its first segment) and the disease;
- otherwise the calling AE's rule gives the disease and the automatic ROI is used.

Results are written by :func:`ldedit_core.pipeline.write_outputs` under ``results/job-N.partial/<k>/`` and
the folder is renamed to ``results/job-N`` only when every image is done, so "the results exist" is one
atomic fact a restarted server can trust (it then sends them instead of editing again).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ldedit_core.errors import InputError
from ldedit_core.io import read_radiograph, read_roi
from ldedit_core.io.roi_read import seg_summary
from ldedit_core.pipeline import EditOptions, bundle_diseases, synthesize_followups, write_outputs
from ldedit_core.service.config import Rule, ServiceConfig
from ldedit_core.service.intake import IMAGE_CLASSES, SEGMENTATION
from ldedit_core.service.store import Instance

LATERAL = {"LL", "RL", "LATERAL", "LAT", "LLD", "RLD"}


@dataclass(frozen=True)
class EditPlan:
    """What one frontal image of a job becomes."""

    image: Instance
    disease: str
    seg: Path | None
    segment: int | None
    rule: Rule

    def describe(self) -> str:
        roi = f"SEG segment {self.segment}" if self.seg else "automatic ROI"
        return f"{self.disease}, {self.rule.followups} follow-ups, {roi}"


def plan_job(
    job_instances: list[Instance], study_instances: list[Instance], cfg: ServiceConfig, calling_ae: str
) -> list[EditPlan]:
    """The edits a job asks for (see the module docstring).

    Raises:
        InputError: the job holds no image, or only lateral views.
    """
    import pydicom

    rule = cfg.rule_for(calling_ae)
    # each SEG's header is read once: (path, referenced SOP Instance UIDs, segment labels)
    segs = {
        i.sop_uid: (i.path, *seg_summary(i.path))
        for i in (*job_instances, *study_instances)
        if i.sop_class == SEGMENTATION and i.path.exists()
    }
    images = [i for i in job_instances if i.sop_class in IMAGE_CLASSES]
    if not images:  # a SEG on its own (instance mode): it asks for its image to be edited again
        wanted = {uid for i in job_instances if i.sop_uid in segs for uid in segs[i.sop_uid][1]}
        images = [i for i in study_instances if i.sop_uid in wanted and i.path.exists()]
    if not images:
        raise InputError("the study holds no CR, DX or Secondary Capture image to edit")
    frontal = []
    for image in images:
        view = str(pydicom.dcmread(image.path, stop_before_pixels=True).get("ViewPosition", "")).upper()
        if view not in LATERAL:
            frontal.append(image)
    if not frontal:
        raise InputError("the study holds only lateral views; LDEdit edits frontal (PA/AP) radiographs")
    diseases = bundle_diseases(cfg.bundle)
    plans = []
    for image in frontal:
        seg, segment, disease = None, None, rule.disease
        for path, refs, labels in segs.values():
            if image.sop_uid in refs and labels:
                segment, disease = _segment_disease(labels, cfg.seg_labels, diseases, rule.disease)
                seg = path
                break
        plans.append(EditPlan(image, disease, seg, segment, rule))
    return plans


def _segment_disease(
    labels: list[str], mapping: dict[str, str], diseases: list[str], fallback: str
) -> tuple[int, str]:
    """(0-based segment index, as read_roi takes it; disease): the first segment naming a disease, else 0."""
    for k, label in enumerate(labels):
        text = label.strip().lower()
        if text in mapping:
            return k, mapping[text]
        named = [d for d in diseases if d in text]
        if named:
            return k, named[0]
    return 0, fallback


def run_job(
    job_id: int,
    plans: list[EditPlan],
    cfg: ServiceConfig,
    *,
    cancel: Any = None,
    progress: Any = None,
) -> Path:
    """Edit every planned image and write the results; returns ``results/job-N`` (complete)."""
    final = result_folder(cfg, job_id)
    partial = final.with_name(final.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)  # an edit interrupted by a crash: start that job's outputs afresh
    partial.mkdir(parents=True)
    for k, plan in enumerate(plans):
        image = read_radiograph(plan.image.path)
        roi = read_roi(plan.seg, image, segment=plan.segment) if plan.seg else None
        result = synthesize_followups(
            image,
            roi,
            plan.disease,
            n_followups=plan.rule.followups,
            target=plan.rule.target,
            regress=plan.rule.regress,
            bundle=cfg.bundle,
            device=cfg.device,
            options=EditOptions(**plan.rule.options),
            progress=progress,
            cancel=cancel,
        )
        write_outputs(
            result,
            partial / str(k),
            interval_days=plan.rule.interval_days,
            iod=plan.rule.iod,
            extra_summary={"job": job_id, "roi_source": "dicom-seg" if plan.seg else "automatic"},
            cancel=cancel,
        )
    (partial / "job.json").write_text(json.dumps({"job": job_id, "edits": [p.describe() for p in plans]}))
    partial.replace(final)
    return final


def result_folder(cfg: ServiceConfig, job_id: int) -> Path:
    return cfg.results_dir / f"job-{job_id}"


def result_files(folder: Path) -> list[Path]:
    """The DICOM instances to deliver: each edit's follow-ups and its ROI as a DICOM SEG."""
    return sorted(folder.glob("*/followups/*.dcm")) + sorted(folder.glob("*/roi_seg.dcm"))
