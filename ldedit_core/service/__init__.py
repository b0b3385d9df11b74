"""``ldedit serve``: a DICOM node beside a PACS that answers pushed studies with synthetic follow-ups.

A storage SCP (pynetdicom) spools what it receives, a durable SQLite queue turns each complete study into a
job, workers run :func:`ldedit_core.pipeline.synthesize_followups`, and a sender returns the follow-up
studies and the ROI (DICOM SEG) by C-STORE. See docs/pacs.md.

Example:
    >>> from ldedit_core.service import Service, load_config
    >>> service = Service(load_config("ldedit-serve.toml"))
    >>> service.start()
"""

from __future__ import annotations

from ldedit_core.service.config import Peer, Rule, ServiceConfig, load_config
from ldedit_core.service.server import Service
from ldedit_core.service.store import Job, JobStore

__all__ = ["Job", "JobStore", "Peer", "Rule", "Service", "ServiceConfig", "load_config"]
