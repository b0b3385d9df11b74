"""The durable job queue: SQLite in WAL mode, one job per received study.

States: ``received`` (instances arriving) -> ``queued`` (study complete) -> ``running`` (being edited) ->
``sending`` (results written, C-STOREs going out) -> ``done``; or ``failed`` with ``last_error``. A restart
puts ``running`` jobs back to ``queued``; the worker that takes one again and finds its results already
written sends them instead of editing again, so no job is edited twice to completion. ``sending`` jobs
resume with the result files the destination has not yet acknowledged (the ``sent`` table).

SQLite rather than a broker: one file next to the spool, transactions that survive ``kill -9``, and
``ldedit jobs`` can read it while the server runs (WAL lets readers and the writer work at once).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STATES = ("received", "queued", "running", "sending", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    study_uid TEXT NOT NULL,
    calling_ae TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    send_attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    updated REAL NOT NULL,
    last_instance REAL NOT NULL,
    not_before REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, not_before);
CREATE TABLE IF NOT EXISTS instances (
    sop_uid TEXT PRIMARY KEY,
    job_id INTEGER REFERENCES jobs (id),
    study_uid TEXT NOT NULL,
    series_uid TEXT NOT NULL,
    sop_class TEXT NOT NULL,
    path TEXT NOT NULL,
    received REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_job ON instances (job_id);
CREATE TABLE IF NOT EXISTS sent (
    job_id INTEGER NOT NULL REFERENCES jobs (id),
    item TEXT NOT NULL,  -- the result file, relative to the job's folder
    sent REAL NOT NULL,
    PRIMARY KEY (job_id, item)
);
"""


@dataclass(frozen=True)
class Job:
    """One row of the ``jobs`` table."""

    id: int
    study_uid: str
    calling_ae: str
    state: str
    attempts: int
    send_attempts: int
    last_error: str
    created: float
    updated: float
    last_instance: float
    not_before: float


@dataclass(frozen=True)
class Instance:
    """A received instance, as spooled."""

    sop_uid: str
    job_id: int | None
    study_uid: str
    series_uid: str
    sop_class: str
    path: Path


class JobStore:
    """Thread-safe access to the job database at ``path`` (created on first use).

    One connection guarded by a lock: the server's writes are a few per instance and per job, far below
    what one SQLite connection does, and it keeps every transaction simple.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a job acknowledged is a job on disk
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- receipt ------------------------------------------------------------------------------------------

    def instance_job(self, sop_uid: str) -> Job | None:
        """The job an instance already belongs to (a duplicate), or ``None``."""
        with self._lock:
            row = self._db.execute("SELECT job_id FROM instances WHERE sop_uid = ?", (sop_uid,)).fetchone()
        return self.get(row["job_id"]) if row else None

    def add_instance(
        self,
        *,
        sop_uid: str,
        study_uid: str,
        series_uid: str,
        sop_class: str,
        path: Path,
        calling_ae: str,
        mode: str = "stable",
        now: float | None = None,
    ) -> int | None:
        """Record a spooled instance; returns its job id.

        ``mode``: ``"stable"`` adds it to its study's open job (a new one if none); ``"instance"`` makes it a
        job of its own, queued at once; ``"lookup"`` records it under no job (a SEG in instance mode, which
        later jobs of the study find with :meth:`study_instances`). A duplicate SOP Instance UID only
        refreshes its job's quiet-period clock, unless that job has ended, done or failed: then it is a new
        request (a PACS sending a study again after a fix).
        """
        now = time.time() if now is None else now
        with self._tx() as db:
            row = db.execute(
                "SELECT i.job_id, j.state FROM instances i LEFT JOIN jobs j ON i.job_id = j.id"
                " WHERE i.sop_uid = ?",
                (sop_uid,),
            ).fetchone()
            if row and row["state"] in ("done", "failed"):  # sent again after the job ended: a new request
                db.execute("DELETE FROM instances WHERE sop_uid = ?", (sop_uid,))
                row = None
            if row:
                db.execute(
                    "UPDATE jobs SET last_instance = ?, updated = ? WHERE id = ? AND state = 'received'",
                    (now, now, row["job_id"]),
                )
                return row["job_id"]
            if mode == "lookup":
                db.execute(
                    "INSERT INTO instances VALUES (?, NULL, ?, ?, ?, ?, ?)",
                    (sop_uid, study_uid, series_uid, sop_class, str(path), now),
                )
                return None
            job = None
            if mode == "stable":
                job = db.execute(
                    "SELECT id FROM jobs WHERE study_uid = ? AND calling_ae = ? AND state = 'received'",
                    (study_uid, calling_ae),
                ).fetchone()
            if job is None:
                cur = db.execute(
                    "INSERT INTO jobs (study_uid, calling_ae, state, created, updated, last_instance)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (study_uid, calling_ae, "received" if mode == "stable" else "queued", now, now, now),
                )
                job_id = int(cur.lastrowid)
            else:
                job_id = int(job["id"])
                db.execute("UPDATE jobs SET last_instance = ?, updated = ? WHERE id = ?", (now, now, job_id))
            db.execute(
                "INSERT INTO instances VALUES (?, ?, ?, ?, ?, ?, ?)",
                (sop_uid, job_id, study_uid, series_uid, sop_class, str(path), now),
            )
            return job_id

    def promote_stable(self, stable_age: float, now: float | None = None) -> list[int]:
        """Queue every study that has been quiet for ``stable_age`` seconds; returns their job ids."""
        now = time.time() if now is None else now
        with self._tx() as db:
            ids = [
                int(r["id"])
                for r in db.execute(
                    "SELECT id FROM jobs WHERE state = 'received' AND last_instance <= ?", (now - stable_age,)
                )
            ]
            db.executemany(
                "UPDATE jobs SET state = 'queued', updated = ? WHERE id = ?", [(now, i) for i in ids]
            )
        return ids

    # --- work ---------------------------------------------------------------------------------------------

    def claim(self, state: str, new_state: str, now: float | None = None) -> Job | None:
        """Atomically take the oldest due job in ``state`` and move it to ``new_state``."""
        now = time.time() if now is None else now
        with self._tx() as db:
            row = db.execute(
                "SELECT id FROM jobs WHERE state = ? AND not_before <= ? ORDER BY id LIMIT 1", (state, now)
            ).fetchone()
            if row is None:
                return None
            extra = ", attempts = attempts + 1" if new_state == "running" else ""
            db.execute(
                f"UPDATE jobs SET state = ?, updated = ?{extra} WHERE id = ?", (new_state, now, row["id"])
            )
        return self.get(int(row["id"]))

    def update(self, job_id: int, **fields: object) -> None:
        """Set columns of a job (e.g. ``state``, ``last_error``, ``not_before``, ``send_attempts``)."""
        bad = set(fields) - {"state", "last_error", "not_before", "send_attempts", "attempts"}
        if bad or fields.get("state", "done") not in STATES:
            raise ValueError(f"cannot set {sorted(bad) or fields.get('state')}")
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._tx() as db:
            db.execute(
                f"UPDATE jobs SET {cols}, updated = ? WHERE id = ?", (*fields.values(), time.time(), job_id)
            )

    def recover(self) -> list[int]:
        """After a restart: jobs that were running go back to the queue (their edit did not finish)."""
        with self._tx() as db:
            ids = [int(r["id"]) for r in db.execute("SELECT id FROM jobs WHERE state = 'running'")]
            db.execute("UPDATE jobs SET state = 'queued', not_before = 0 WHERE state = 'running'")
        return ids

    def retry(self, job_id: int) -> Job:
        """``ldedit jobs retry``: a failed (or any unfinished) job starts again with fresh attempt counts."""
        job = self.get(job_id)
        if job is None:
            raise KeyError(job_id)
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET state = 'queued', attempts = 0, send_attempts = 0, not_before = 0,"
                " last_error = '', updated = ? WHERE id = ?",
                (time.time(), job_id),
            )
        return self.get(job_id)  # type: ignore[return-value]

    # --- delivery bookkeeping -----------------------------------------------------------------------------

    def mark_sent(self, job_id: int, item: str) -> None:
        """Record that the destination acknowledged result file ``item``."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO sent VALUES (?, ?, ?)", (job_id, item, time.time()))

    def sent_items(self, job_id: int) -> set[str]:
        """The result files of a job already acknowledged."""
        with self._lock:
            rows = self._db.execute("SELECT item FROM sent WHERE job_id = ?", (job_id,)).fetchall()
        return {r["item"] for r in rows}

    # --- reading ------------------------------------------------------------------------------------------

    def get(self, job_id: int) -> Job | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job(**dict(row)) if row else None

    def jobs(self, state: str | None = None) -> list[Job]:
        with self._lock:
            if state is None:
                rows = self._db.execute("SELECT * FROM jobs ORDER BY id").fetchall()
            else:
                rows = self._db.execute("SELECT * FROM jobs WHERE state = ? ORDER BY id", (state,)).fetchall()
        return [Job(**dict(r)) for r in rows]

    def instances(self, job_id: int) -> list[Instance]:
        """The instances of one job, in order of receipt."""
        return self._instances("job_id = ?", job_id)

    def study_instances(self, study_uid: str) -> list[Instance]:
        """Every instance of a study still recorded, whatever its job (SEGs received before or apart)."""
        return self._instances("study_uid = ?", study_uid)

    def _instances(self, where: str, value: object) -> list[Instance]:
        with self._lock:
            rows = self._db.execute(
                "SELECT sop_uid, job_id, study_uid, series_uid, sop_class, path FROM instances"
                f" WHERE {where} ORDER BY received",
                (value,),
            ).fetchall()
        return [Instance(**{**dict(r), "path": Path(r["path"])}) for r in rows]

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").fetchall()
        return {r["state"]: int(r["n"]) for r in rows}
