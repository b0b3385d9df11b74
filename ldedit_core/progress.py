"""Progress reports and cancellation, shared by every long-running function (one convention for all).

A progress callback is ``progress(stage, fraction, message)``: ``stage`` a short name ("inversion",
"link-lr", "trajectory", "writing"), ``fraction`` in [0, 1] within that stage. The CLI turns it into a bar or
JSON lines; the Slicer module into its progress bar. ``cancel`` is anything with ``is_set()`` (a
``threading.Event``) or a zero-argument callable returning ``True`` to stop; long loops call
:func:`check_cancel` between steps and raise :class:`Cancelled`, so nothing half-done is returned.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ProgressCallback = Callable[[str, float, str], None]


class Cancelled(Exception):
    """The caller asked to stop; no partial result was returned or written."""


def check_cancel(cancel: Any) -> None:
    """Raise :class:`Cancelled` if ``cancel`` (an Event-like or a callable, or ``None``) says stop."""
    if cancel is None:
        return
    stop = cancel.is_set() if hasattr(cancel, "is_set") else cancel()
    if stop:
        raise Cancelled("cancelled")


def report(progress: ProgressCallback | None, stage: str, fraction: float, message: str = "") -> None:
    """Call ``progress`` if given, with ``fraction`` clipped to [0, 1]."""
    if progress is not None:
        progress(stage, min(max(float(fraction), 0.0), 1.0), message)
