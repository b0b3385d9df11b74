"""``ldedit jobs``: the service's job queue, read while it runs.

ldedit jobs                   # every job: id, state, attempts, study UID, last error
ldedit jobs --state failed
ldedit jobs retry 12          # run job 12 again (failed, or stuck waiting for a retry)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("jobs", help="list the jobs of `ldedit serve`, or retry one")
    p.add_argument("action", nargs="?", choices=["list", "retry"], default="list")
    p.add_argument("job_id", nargs="?", type=int, help="the job to retry")
    p.add_argument("--config", type=Path, help="the serve TOML (for its state_dir)")
    p.add_argument("--state-dir", type=Path, help="the serve state folder (default ./ldedit-serve)")
    p.add_argument("--state", help="list only jobs in this state")
    p.add_argument("--json", action="store_true", help="one JSON object per job")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ldedit_core.errors import InputError
    from ldedit_core.service import JobStore, load_config

    cfg = load_config(args.config, state_dir=args.state_dir)
    if not cfg.db_path.is_file():
        raise InputError("no job database here: is this the state_dir of `ldedit serve`?", cfg.db_path)
    store = JobStore(cfg.db_path)
    try:
        if args.action == "retry":
            if args.job_id is None:
                raise InputError("ldedit jobs retry needs a job id")
            try:
                job = store.retry(args.job_id)
            except KeyError:
                raise InputError(f"no job {args.job_id}", cfg.db_path) from None
            print(f"job {job.id} queued again (the running server picks it up)")
            return 0
        jobs = store.jobs(args.state)
    finally:
        store.close()
    if args.json:
        for job in jobs:
            print(json.dumps(job.__dict__))
        return 0
    print(f"{'id':>5}  {'state':<9} {'tries':>5}  {'updated':<19}  study / last error")
    for job in jobs:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.updated))
        print(
            f"{job.id:>5}  {job.state:<9} {job.attempts:>2}/{job.send_attempts:<2}  {when}  {job.study_uid}"
        )
        if job.last_error:
            print(f"{'':>42}{job.last_error}")
    return 0
