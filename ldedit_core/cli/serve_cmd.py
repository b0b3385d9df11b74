"""``ldedit serve``: run the DICOM node that answers pushed studies with synthetic follow-ups.

    ldedit serve --config ldedit-serve.toml
    ldedit serve --port 11112 --peer ORTHANC@127.0.0.1:4242 --disease cardiomegaly --stable-age 30

Flags override the TOML file (its format: :mod:`ldedit_core.service.config`, docs/pacs.md). Runs until
SIGINT/SIGTERM; a restart resumes every unfinished job from ``STATE_DIR/jobs.sqlite``.
"""

from __future__ import annotations

import argparse
import re
import signal
import threading
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="DICOM storage SCP: studies in, synthetic follow-up studies back")
    p.add_argument("--config", type=Path, help="TOML settings (see docs/pacs.md)")
    p.add_argument("--ae-title", help="our AE title (default LDEDIT)")
    p.add_argument("--host", help="bind address (default 127.0.0.1: loopback only)")
    p.add_argument("--port", type=int, help="DICOM port (default 11112)")
    p.add_argument("--state-dir", type=Path, help="spool, results and jobs.sqlite (default ./ldedit-serve)")
    p.add_argument(
        "--peer",
        action="append",
        default=[],
        metavar="AET@HOST:PORT",
        help="a known node that may send studies and receive results (repeatable)",
    )
    p.add_argument("--disease", help="rules.default disease for studies without a DICOM SEG")
    p.add_argument("--followups", type=int, help="rules.default number of follow-ups")
    p.add_argument("--stable-age", type=float, help="quiet seconds after which a study is complete")
    p.add_argument("--completion", choices=["stable", "instance"], help="study completion mode")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--bundle", help="bundle folder or name")
    p.add_argument("--workers", type=int, help="edits run at once (default 1)")
    p.add_argument("--log-file", help="JSON-lines log file (default stderr)")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    """The :class:`ServiceConfig` of the TOML file with the flags applied."""
    import dataclasses

    from ldedit_core.errors import InputError
    from ldedit_core.service import Peer, Rule, load_config

    cfg = load_config(
        args.config,
        ae_title=args.ae_title,
        host=args.host,
        port=args.port,
        state_dir=args.state_dir,
        stable_age=args.stable_age,
        completion=args.completion,
        device=args.device,
        bundle=args.bundle,
        workers=args.workers,
        log_file=args.log_file,
    )
    for text in args.peer:
        m = re.fullmatch(r"([^@]{1,16})@([^:]+):(\d+)", text)
        if not m:
            raise InputError(f"--peer {text!r}: expected AET@HOST:PORT, e.g. ORTHANC@127.0.0.1:4242")
        cfg.peers[m[1]] = Peer(name=m[1], ae_title=m[1], host=m[2], port=int(m[3]))
    given = {"disease": args.disease, "followups": args.followups}
    changes = {k: v for k, v in given.items() if v is not None}
    if changes:
        # rules.default changes, and so does every rule that inherited the key; a rule's own value stays
        old = cfg.rules.get("default", Rule())
        cfg.rules = {
            name: dataclasses.replace(
                rule,
                **{
                    k: v
                    for k, v in changes.items()
                    if name == "default" or getattr(rule, k) == getattr(old, k)
                },
            )
            for name, rule in cfg.rules.items()
        }
        cfg.rules.setdefault("default", dataclasses.replace(old, **changes))
    return cfg


def run(args: argparse.Namespace) -> int:
    from ldedit_core.service import Service
    from ldedit_core.service.logs import setup_logging

    cfg = config_from_args(args)
    setup_logging(cfg.log_file)
    service = Service(cfg)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    service.start()
    print(f"ldedit serve: {cfg.ae_title} listening on {cfg.host}:{service.port}; Ctrl-C stops", flush=True)
    stop.wait()
    service.stop()
    return 0
