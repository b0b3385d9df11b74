"""``ldedit evaluate``: LDEdit against the baselines on held-out healthy phantoms; a report in ``--out``.

    ldedit evaluate --bundle default --n 50
    ldedit evaluate --bundle my-bundle --n 10 --diseases cardiomegaly nodule --out /tmp/eval

Writes ``evaluation.md`` (a table per disease, the targets met or MISSED), ``evaluation.json`` (every number,
the machine, the command, timings) and PNGs (probability vs frame per method; an LDEdit example strip).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate", help="measure LDEdit and the baselines on held-out phantoms")
    p.add_argument("--bundle", default="default", help="bundle folder or name (default: default)")
    p.add_argument("--n", type=int, default=50, help="healthy phantoms per disease (default 50)")
    p.add_argument("--diseases", nargs="+", default=None, help="diseases to grow (default: all the bundle's)")
    p.add_argument(
        "--methods", nargs="+", default=None, help="ldedit resefa interfacegan ganspace sefa (default all)"
    )
    p.add_argument("--followups", type=int, default=10, help="follow-up frames (default 10)")
    p.add_argument(
        "--target", type=float, default=0.9, help="guide probability of the last frame (default 0.9)"
    )
    p.add_argument(
        "--out", type=Path, default=Path("docs/evaluation"), help="report folder (default docs/evaluation)"
    )
    p.add_argument("--seed", type=int, default=9001, help="first phantom seed (default 9001)")
    p.add_argument("--size", type=int, default=256, help="phantom side in pixels (default 256)")
    p.add_argument(
        "--population", type=int, default=5000, help="generator samples for the baselines (default 5000)"
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--json-progress", action="store_true", help="one JSON object per line on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ldedit_core.cli.progress_display import Progress, stop_on_signals
    from ldedit_core.evaluation import evaluate, write_report
    from ldedit_core.evaluation.report import MARKDOWN
    from ldedit_core.progress import Cancelled

    progress = Progress(json_lines=args.json_progress)
    with stop_on_signals() as stop:
        try:
            result = evaluate(
                args.bundle,
                diseases=args.diseases,
                n=args.n,
                n_followups=args.followups,
                target=args.target,
                seed=args.seed,
                size=args.size,
                methods=args.methods,
                population=args.population,
                device=args.device,
                progress=progress,
                cancel=stop,
            )
        except Cancelled:
            progress.close()
            print("ldedit evaluate: stopped; no report was written", file=sys.stderr)
            return 130
    progress.close()
    result["command"] = shlex.join(["ldedit", *getattr(args, "argv", [])])
    files = write_report(result, args.out)
    stream = sys.stderr if args.json_progress else sys.stdout
    print(files["markdown"].read_text(), file=stream)
    print(f"report: {args.out / MARKDOWN} (and evaluation.json, PNGs)", file=stream)
    return 0
