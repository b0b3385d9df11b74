"""Structured logs for the service: one JSON object per line, with UIDs and AE titles, never patient data.

Every record is an ``event`` name plus fields (``job``, ``study``, ``sop``, ``calling_ae``, ``status``,
``reason``...), so a log shipper can index them. Nothing from a data set is logged but UIDs: no names, IDs,
dates or descriptions. pynetdicom's own logger is kept at WARNING and its identifier dumps are turned off,
because at DEBUG it prints whole data sets.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

LOGGER = logging.getLogger("ldedit.service")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "event", ...fields}`` per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry, default=str)


def log(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``event`` with ``fields`` (UIDs, AE titles, counts, reasons: never patient data)."""
    LOGGER.log(level, event, extra={"fields": fields})


def setup_logging(log_file: str = "", level: int = logging.INFO) -> None:
    """Send the service's records as JSON lines to ``log_file`` (appended) or stderr."""
    from pynetdicom import _config

    _config.LOG_REQUEST_IDENTIFIERS = False
    _config.LOG_RESPONSE_IDENTIFIERS = False
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    handler: logging.Handler = (
        logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(JsonFormatter())
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level)
    LOGGER.propagate = False
