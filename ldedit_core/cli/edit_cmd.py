"""``ldedit edit``: a radiograph and a painted ROI in, synthetic follow-up DICOM studies out.

    ldedit edit --input chest.dcm --mask heart.seg.nrrd --disease cardiomegaly --followups 10 --out out/

Writes ``OUT/followups/*.dcm``, the ROI as NRRD and (for DICOM inputs) a DICOM SEG, ``strip.png``,
``probabilities.png`` and ``summary.json`` (see :mod:`ldedit_core.pipeline.outputs`). Without ``--mask`` the
automatic ROI is used. SIGINT/SIGTERM stop cleanly: nothing is left in OUT.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("edit", help="synthesize gradual disease follow-ups of one radiograph")
    p.add_argument("--input", type=Path, required=True, help="radiograph: DICOM, PNG, JPEG, TIFF or NRRD")
    p.add_argument("--mask", type=Path, help="ROI: PNG/NRRD mask, Slicer .seg.nrrd or DICOM SEG (none: auto)")
    p.add_argument("--segment", help="segment name or index inside a .seg.nrrd / DICOM SEG")
    p.add_argument("--disease", required=True, help="e.g. cardiomegaly, effusion, edema, nodule")
    p.add_argument("--followups", type=int, default=10, help="number of follow-up studies (default 10)")
    p.add_argument("--out", type=Path, required=True, help="output folder (must be new or empty)")
    p.add_argument("--interval-days", type=float, default=90.0, help="days between follow-ups (default 90)")
    p.add_argument("--target", type=float, default=0.9, help="disease probability of the last frame")
    p.add_argument("--regress", action="store_true", help="the disease recedes instead (healing)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--bundle", default=None, help="bundle folder or name (default: the shipped default)")
    p.add_argument("--iod", default="sc", choices=["sc", "source"], help="follow-up IOD (default sc)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json-progress", action="store_true", help="one JSON object per line on stdout")
    p.set_defaults(func=run)


def edit_and_write(image, roi, disease: str, out: Path, progress, *, write: dict | None = None, **edit):
    """``synthesize_followups`` then ``write_outputs`` under SIGINT/SIGTERM handling, as the CLI runs them.

    Returns:
        ``(result, paths)``, or ``None`` when a signal stopped it (nothing was written).
    """
    from ldedit_core.cli.progress_display import stop_on_signals
    from ldedit_core.pipeline import Cancelled, synthesize_followups, write_outputs

    with stop_on_signals() as stop:
        try:
            result = synthesize_followups(image, roi, disease, progress=progress, cancel=stop, **edit)
            paths = write_outputs(result, out, progress=progress, cancel=stop, **(write or {}))
        except Cancelled:
            return None
        finally:
            progress.close()
    return result, paths


def run(args: argparse.Namespace) -> int:
    from ldedit_core.cli.progress_display import Progress
    from ldedit_core.io import read_radiograph
    from ldedit_core.io.roi_read import read_roi
    from ldedit_core.pipeline import EditOptions
    from ldedit_core.pipeline.outputs import check_output_folder

    progress = Progress(json_lines=args.json_progress)
    check_output_folder(args.out)
    image = read_radiograph(args.input)
    roi = read_roi(args.mask, image, segment=args.segment) if args.mask else None
    done = edit_and_write(
        image,
        roi,
        args.disease,
        args.out,
        progress,
        n_followups=args.followups,
        target=args.target,
        regress=args.regress,
        bundle=args.bundle,
        device=args.device,
        options=EditOptions(seed=args.seed),
        write={
            "interval_days": args.interval_days,
            "iod": args.iod,
            "extra_summary": {"command": "ldedit " + " ".join(args.argv)},
        },
    )
    if done is None:
        print("ldedit edit: stopped; nothing was written", file=sys.stderr)
        return 130
    result, paths = done
    out = sys.stderr if args.json_progress else sys.stdout
    if args.json_progress:
        print(json.dumps({"stage": "result", "fraction": 1.0, "message": str(args.out), **result.summary()}))
    print(_table(result), file=out)
    print(f"follow-ups: {args.out / 'followups'} ({len(paths['followups'])} DICOM files)", file=out)
    print(f"strip: {paths['strip']}\nplot: {paths['plot']}\nsummary: {paths['summary']}", file=out)
    return 0


def _table(result) -> str:
    rows = ["frame  guide  evaluator"]
    for t, (g, e) in enumerate(zip(result.guide_probs, result.evaluator_probs, strict=True)):
        rows.append(f"{t:>5}  {g:5.3f}  {e:9.3f}")
    status = "reached" if result.reached else "NOT reached"
    rows.append(
        f"{result.disease}: target {result.target:g} {status}; inversion SSIM {result.inversion_ssim:.3f}"
    )
    hint = result.hint()
    if hint:
        rows.append(f"hint: {hint}")
    return "\n".join(rows)
