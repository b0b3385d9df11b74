"""Progress for long commands: a bar per stage (with ETA) for people, or JSON lines for programs.

``--json-progress`` prints one object per line on stdout, ``{"stage", "fraction", "message"}``, flushed at
once, which the Slicer module reads from the subprocess; everything else then goes to stderr.
SIGINT and SIGTERM set the returned event, so the pipeline stops between steps and writes nothing.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

BAR = "{desc}: {percentage:3.0f}%|{bar:24}| {elapsed}<{remaining} {postfix}"
"""Percent, elapsed and ETA; no rate (the bar counts per-mille of a stage, not items)."""


class Progress:
    """``progress(stage, fraction, message)`` callable rendering as tqdm bars or JSON lines."""

    def __init__(self, *, json_lines: bool, enabled: bool = True) -> None:
        self.json_lines, self.enabled = json_lines, enabled
        self._bar = None
        self._stage = None

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        if not self.enabled:
            return
        if self.json_lines:
            print(
                json.dumps({"stage": stage, "fraction": round(fraction, 4), "message": message}), flush=True
            )
            return
        from tqdm import tqdm

        if stage != self._stage:
            self.close()
            self._stage = stage
            self._bar = tqdm(total=1000, desc=f"{stage:>12}", file=sys.stderr, leave=True, bar_format=BAR)
        self._bar.n = round(fraction * 1000)
        self._bar.set_postfix_str(message, refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT/SIGTERM while the block runs (main thread only); handlers restored after."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    old: dict[int, Callable] = {}

    def handler(signum, frame) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        old[sig] = signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
