"""Exception types shared by every layer.

One type for every problem with what a user hands us (a file, a mask, an option), so that the CLI, the
service and the Slicer module can catch it in one place and show its message as it is.
"""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad user input. The message names the file (when there is one) and the reason.

    Args:
        reason: what is wrong, in words a user can act on.
        path: the offending file, if any; it is put at the start of the message.
    """

    def __init__(self, reason: str, path: str | Path | None = None) -> None:
        self.reason = reason
        self.path = Path(path) if path is not None else None
        super().__init__(f"{self.path}: {reason}" if self.path is not None else reason)
