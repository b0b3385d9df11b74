"""``ldedit serve``: the storage SCP, the edit workers and the sender, around one durable job queue.

Threads, and why each is separate:

- pynetdicom's server threads answer associations. A C-STORE is checked, spooled (fsync + rename) and
  recorded, then answered; nothing slow happens there, so a PACS is never kept waiting by an edit.
- ``workers`` edit threads take complete studies from the queue and run the pipeline (the GPU work). The
  networks release the GIL, so associations stay responsive while they run.
- one sender thread delivers results with C-STORE, retrying with exponential backoff; a destination that is
  down holds up only its own jobs.
- a housekeeping loop (in the sender) queues studies that have been quiet for ``stable_age`` seconds.

Every state change goes through :class:`~ldedit_core.service.store.JobStore` first, so a ``kill -9`` at any
point leaves a queue a restart can resume from.
"""

from __future__ import annotations

import logging
import shutil
import ssl
import threading
import time
from pathlib import Path
from typing import Any

from ldedit_core.errors import InputError
from ldedit_core.pipeline import Cancelled
from ldedit_core.service import intake
from ldedit_core.service.config import ServiceConfig
from ldedit_core.service.delivery import DeliveryError, backoff, send_files
from ldedit_core.service.job_run import plan_job, result_files, result_folder, run_job
from ldedit_core.service.logs import log
from ldedit_core.service.store import Job, JobStore

POLL_S = 0.2


class Service:
    """The running node. ``start()`` returns at once; ``stop()`` shuts down cleanly (or just kill it).

    Example:
        >>> service = Service(load_config("ldedit-serve.toml"))
        >>> service.start()
        >>> service.wait_idle(timeout=600)  # tests and scripts
        >>> service.stop()
    """

    def __init__(self, cfg: ServiceConfig) -> None:
        if not cfg.callers():
            raise InputError("no [peers] entry may store: nobody could send a study (add one, store = true)")
        self.cfg = cfg
        self.store = JobStore(cfg.db_path)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: Any = None

    # --- life cycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        from pynetdicom import _config

        _config.STORE_RECV_CHUNKED_DATASET = True  # stream each instance to disk, never whole into memory
        self.cfg.spool_dir.mkdir(parents=True, exist_ok=True)
        self.cfg.results_dir.mkdir(parents=True, exist_ok=True)
        requeued = self.store.recover()
        if requeued:
            log("recovered", jobs=requeued)
        ae = self._application_entity()
        self._server = ae.start_server(
            (self.cfg.host, self.cfg.port),
            block=False,
            evt_handlers=self._handlers(),
            ssl_context=self._ssl_context(),
        )
        self.port = self._server.server_address[1]
        for k in range(self.cfg.workers):
            self._spawn(f"ldedit-worker-{k}", self._work_loop)
        self._spawn("ldedit-sender", self._send_loop)
        log(
            "started",
            ae_title=self.cfg.ae_title,
            host=self.cfg.host,
            port=self.port,
            callers=self.cfg.callers(),
        )

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._server is not None:
            self._server.shutdown()
        for t in self._threads:
            t.join(timeout=60)
        self.store.close()
        log("stopped")

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job is received, queued, running or sending (``True``) or ``timeout`` passes."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            counts = self.store.counts()
            if not any(counts.get(s, 0) for s in ("received", "queued", "running", "sending")):
                return True
            time.sleep(POLL_S)
        return False

    def _spawn(self, name: str, target) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    # --- the DICOM node -----------------------------------------------------------------------------------

    def _application_entity(self):
        from pynetdicom import AE, ALL_TRANSFER_SYNTAXES
        from pynetdicom.sop_class import Verification

        ae = AE(ae_title=self.cfg.ae_title)
        ae.require_calling_aet = self.cfg.callers()
        ae.maximum_associations = self.cfg.max_associations
        ae.maximum_pdu_size = self.cfg.max_pdu
        ae.acse_timeout = self.cfg.acse_timeout
        ae.dimse_timeout = self.cfg.dimse_timeout
        ae.network_timeout = self.cfg.network_timeout
        ae.add_supported_context(Verification)
        for sop_class in intake.ACCEPTED_CLASSES:
            ae.add_supported_context(sop_class, ALL_TRANSFER_SYNTAXES)
        return ae

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.cfg.tls_cert:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=self.cfg.tls_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_cert_chain(self.cfg.tls_cert, self.cfg.tls_key)
        return ctx

    def _handlers(self) -> list:
        from pynetdicom import evt

        def on_accepted(event) -> None:
            log(
                "association",
                calling_ae=event.assoc.requestor.ae_title,
                address=event.assoc.requestor.address,
            )

        def on_rejected(event) -> None:
            log("association rejected", logging.WARNING, calling_ae=event.assoc.requestor.ae_title)

        return [
            (evt.EVT_C_ECHO, lambda event: 0x0000),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_ACCEPTED, on_accepted),
            (evt.EVT_REJECTED, on_rejected),
        ]

    def _on_store(self, event) -> Any:
        """Check, spool and record one instance, then answer. Never raises: every problem is a status."""
        from pydicom import Dataset

        calling_ae = event.assoc.requestor.ae_title
        sop_uid = str(event.request.AffectedSOPInstanceUID)
        received = Path(event.dataset_path)
        try:
            intake.check_room(
                self.cfg.spool_dir,
                received.stat().st_size,
                min_free_mb=self.cfg.min_free_mb,
                max_instance_mb=self.cfg.max_instance_mb,
            )
            checked = intake.check_instance(received, str(event.request.AffectedSOPClassUID), sop_uid)
            previous = self.store.instance_job(checked.sop_uid)
            if previous is not None and previous.state not in ("received", "done", "failed"):
                log("duplicate ignored", sop=sop_uid, job=previous.id, job_state=previous.state)
                return 0x0000
            path = intake.spool_instance(received, checked, self.cfg.spool_dir)
            # in instance mode a SEG is no job of its own: it waits for its image's job ("lookup")
            seg_apart = self.cfg.completion == "instance" and checked.sop_class not in intake.IMAGE_CLASSES
            mode = "lookup" if seg_apart else self.cfg.completion
            job = self.store.add_instance(
                sop_uid=checked.sop_uid,
                study_uid=checked.study_uid,
                series_uid=checked.series_uid,
                sop_class=checked.sop_class,
                path=path,
                calling_ae=calling_ae,
                mode=mode,
            )
        except intake.Refused as refused:
            log(
                "refused",
                logging.WARNING,
                sop=sop_uid,
                calling_ae=calling_ae,
                status=f"0x{refused.status:04X}",
                reason=refused.reason,
            )
            answer = Dataset()
            answer.Status = refused.status
            answer.ErrorComment = refused.reason[:64]
            return answer
        except Exception as exc:  # the association, and the server, carry on
            logging.getLogger(__name__).debug("store failed", exc_info=True)
            log("store failed", logging.ERROR, sop=sop_uid, calling_ae=calling_ae, error=type(exc).__name__)
            return 0xA700 if isinstance(exc, OSError) else 0xC000
        log("stored", sop=sop_uid, study=checked.study_uid, job=job, calling_ae=calling_ae)
        self._wake.set()
        return 0x0000

    # --- editing ------------------------------------------------------------------------------------------

    def _work_loop(self) -> None:
        while not self._stop.is_set():
            job = self.store.claim("queued", "running")
            if job is None:
                self._wake.wait(POLL_S)
                self._wake.clear()
                continue
            self._process(job)

    def _process(self, job: Job) -> None:
        folder = result_folder(self.cfg, job.id)
        if folder.exists():  # edited before a restart: send, never edit twice
            self.store.update(job.id, state="sending", send_attempts=0)
            return
        log("job running", job=job.id, study=job.study_uid, attempt=job.attempts)
        started = time.monotonic()
        try:
            plans = plan_job(
                self.store.instances(job.id),
                self.store.study_instances(job.study_uid),
                self.cfg,
                job.calling_ae,
            )
            self.cfg.destination_for(
                job.calling_ae
            )  # fail now, not after the edit, if there is nowhere to send
            run_job(job.id, plans, self.cfg, cancel=self._stop)
        except Cancelled:
            self.store.update(job.id, state="queued")
            log("job interrupted", job=job.id)
            return
        except InputError as exc:
            self._fail(job, str(exc))
            return
        except Exception as exc:
            logging.getLogger(__name__).debug("job failed", exc_info=True)
            reason = f"{type(exc).__name__}: {exc}"
            if job.attempts >= self.cfg.max_attempts:
                self._fail(job, reason)
            else:
                wait = backoff(job.attempts, self.cfg.backoff_initial, self.cfg.backoff_max)
                self.store.update(job.id, state="queued", last_error=reason, not_before=time.time() + wait)
                log("job will retry", logging.WARNING, job=job.id, reason=reason, retry_in_s=wait)
            return
        self.store.update(job.id, state="sending", send_attempts=0, last_error="")
        log("job edited", job=job.id, edits=len(plans), seconds=round(time.monotonic() - started, 2))
        self._wake.set()

    def _fail(self, job: Job, reason: str) -> None:
        self.store.update(job.id, state="failed", last_error=reason)
        log("job failed", logging.ERROR, job=job.id, study=job.study_uid, reason=reason)

    # --- delivery -----------------------------------------------------------------------------------------

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            if self.cfg.completion == "stable":
                for job_id in self.store.promote_stable(self.cfg.stable_age):
                    log("study complete", job=job_id)
                    self._wake.set()
            job = self.store.claim("sending", "sending")
            if job is None:
                self._stop.wait(POLL_S)
                continue
            self._deliver(job)

    def _deliver(self, job: Job) -> None:
        folder = result_folder(self.cfg, job.id)
        sent = self.store.sent_items(job.id)
        todo = [f for f in result_files(folder) if str(f.relative_to(folder)) not in sent]
        peer = self.cfg.destination_for(job.calling_ae)
        try:
            send_files(
                todo,
                peer,
                self.cfg.ae_title,
                lambda path: self.store.mark_sent(job.id, str(path.relative_to(folder))),
                timeout=self.cfg.network_timeout,
            )
        except Exception as exc:  # DeliveryError, or the network failing in between
            attempt = job.send_attempts + 1
            reason = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
            if attempt >= self.cfg.delivery_attempts:
                self.store.update(job.id, state="failed", send_attempts=attempt, last_error=reason)
                log("delivery failed", logging.ERROR, job=job.id, attempts=attempt, reason=reason)
                return
            wait = backoff(attempt, self.cfg.backoff_initial, self.cfg.backoff_max)
            self.store.update(job.id, send_attempts=attempt, last_error=reason, not_before=time.time() + wait)
            log(
                "delivery will retry",
                logging.WARNING,
                job=job.id,
                attempt=attempt,
                reason=reason,
                retry_in_s=wait,
            )
            return
        self.store.update(job.id, state="done", last_error="")
        self._release_spool(job)
        log("job done", job=job.id, sent=len(todo), destination=peer.ae_title)

    def _release_spool(self, job: Job) -> None:
        """Delete the job's received files: the destination has acknowledged every result."""
        for inst in self.store.instances(job.id):
            inst.path.unlink(missing_ok=True)
        study = self.cfg.spool_dir / job.study_uid
        if study.is_dir() and not any(p for p in study.iterdir() if p.suffix == ".dcm"):
            shutil.rmtree(study, ignore_errors=True)
