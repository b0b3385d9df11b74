"""Real DICOM peers on loopback for integration tests: an Orthanc process, a recording SCP, dcmtk tools.

Mocks cannot show that what we send is accepted by a real PACS, or that we survive a destination that
goes away; these helpers start the real thing on free ports, each in its own temporary folder, and
clean up after themselves. Plain helpers (not fixtures) so any test module can compose them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from pydicom import Dataset

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def orthanc_available() -> bool:
    """Whether the ``Orthanc`` executable is on PATH (Debian package ``orthanc``)."""
    return shutil.which("Orthanc") is not None


def run_tool(args: Sequence[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a command-line tool (dcmtk ``storescu``, ``echoscu``...) and capture its text output.

    Never raises on a non-zero exit: tests assert on ``returncode`` so failures are part of the story.
    """
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False)


class OrthancError(RuntimeError):
    """Orthanc did not start, or its REST API answered with an HTTP error."""


class OrthancServer:
    """A private Orthanc process: own config, storage, index and ports, torn down on exit.

    Args:
        modalities: ``{name: (aet, host, port)}`` peers Orthanc may send to (``DicomModalities``).
        aet: Orthanc's own AE title.
        stable_age: seconds without new instances before a study is "stable" (kept small for tests).
        workdir: folder for config, database and log; a fresh temporary one (deleted on exit) if None.
        startup_timeout: seconds to wait for the REST API to answer.
        stop_timeout: seconds to wait after SIGTERM before SIGKILL (a clean stop takes Orthanc ~3 s).
        extra_config: merged last into the JSON configuration.
    """

    def __init__(
        self,
        modalities: Mapping[str, tuple[str, str, int]] | None = None,
        *,
        aet: str = "ORTHANC",
        stable_age: int = 1,
        workdir: str | Path | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        extra_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.aet = aet
        self.modalities = dict(modalities or {})
        self.stable_age = stable_age
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.extra_config = dict(extra_config or {})
        self._workdir_arg = Path(workdir) if workdir is not None else None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.workdir: Path | None = None
        self.http_port = 0
        self.dicom_port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log_handle: Any = None

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None, "Orthanc not started"
        return self.workdir / "orthanc.log"

    def config(self) -> dict[str, Any]:
        """The JSON configuration: isolated, local-only, unauthenticated, quick timeouts, no plugins."""
        assert self.workdir is not None
        cfg: dict[str, Any] = {
            "Name": f"ldedit-test-{self.aet}",
            "StorageDirectory": str(self.workdir / "storage"),
            "IndexDirectory": str(self.workdir / "index"),
            "Plugins": [],
            "HttpServerEnabled": True,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomServerEnabled": True,
            "DicomAet": self.aet,
            "DicomPort": self.dicom_port,
            "DicomCheckCalledAet": False,
            "DicomModalities": {name: [a, h, int(p)] for name, (a, h, p) in self.modalities.items()},
            "StableAge": self.stable_age,
            "DicomScuTimeout": 5,
            "DicomAssociationCloseDelay": 0,
            "SaveJobs": False,
            "HttpTimeout": 30,
        }
        cfg.update(self.extra_config)
        return cfg

    def start(self) -> OrthancServer:
        """Write the config, start ``Orthanc`` and wait until ``GET /system`` answers."""
        if self.process is not None:
            raise OrthancError("Orthanc already started")
        exe = shutil.which("Orthanc")
        if exe is None:
            raise OrthancError("Orthanc not found on PATH (apt-get install orthanc)")
        if self._workdir_arg is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="orthanc-test-")
            self.workdir = Path(self._tmp.name)
        else:
            self.workdir = self._workdir_arg
            self.workdir.mkdir(parents=True, exist_ok=True)
        self.http_port, self.dicom_port = free_port(), free_port()
        while self.dicom_port == self.http_port:
            self.dicom_port = free_port()
        config_path = self.workdir / "config.json"
        config_path.write_text(json.dumps(self.config(), indent=2))
        self._log_handle = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [exe, str(config_path)],
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        last_error: object = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise OrthancError(
                    f"Orthanc exited with code {self.process.returncode} during startup:\n{self.log_tail()}"
                )
            try:
                self.rest_get("/system", timeout=2)
                return
            except (OSError, OrthancError) as exc:  # URLError is an OSError
                last_error = exc
                time.sleep(0.1)
        raise OrthancError(
            f"Orthanc REST API silent after {self.startup_timeout} s ({last_error}):\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        """Last lines of Orthanc's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except (OSError, AssertionError):
            return "<no log>"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM, wait, then SIGKILL; close the log and remove the temporary folder."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> OrthancServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- REST --------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: bytes | None = None, timeout: float = 30) -> Any:
        req = urllib.request.Request(self.base_url + path, data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", "application/octet-stream")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise OrthancError(f"{method} {path}: HTTP {exc.code}: {detail}") from exc
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    def rest_get(self, path: str, timeout: float = 30) -> Any:
        """``GET path`` decoded as JSON; :class:`OrthancError` on an HTTP error."""
        return self._request("GET", path, timeout=timeout)

    def rest_post(self, path: str, body: bytes | str | Mapping[str, Any] | list[Any] = b"") -> Any:
        """``POST path``; a dict/list body is sent as JSON, bytes/str as is."""
        if isinstance(body, str):
            data = body.encode()
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        return self._request("POST", path, data)

    def upload(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Store a DICOM file through ``POST /instances``; returns Orthanc's answer (``ID``, ``Status``)."""
        return self.rest_post("/instances", Path(path).read_bytes())

    def studies(self) -> list[str]:
        """Orthanc ids of all studies."""
        return self.rest_get("/studies")

    def study(self, study_id: str) -> dict[str, Any]:
        """``GET /studies/{id}``: ``MainDicomTags``, ``PatientMainDicomTags``, ``Series``, ``IsStable``..."""
        return self.rest_get(f"/studies/{study_id}")

    def instances(self) -> list[str]:
        """Orthanc ids of all instances."""
        return self.rest_get("/instances")

    def instance_tags(self, instance_id: str) -> dict[str, Any]:
        """``GET /instances/{id}/simplified-tags``: keyword -> value."""
        return self.rest_get(f"/instances/{instance_id}/simplified-tags")

    def send_study(self, modality_name: str, study_id: str) -> dict[str, Any]:
        """C-STORE a study to a ``DicomModalities`` entry, synchronously; raises if any instance failed."""
        answer = self.rest_post(
            f"/modalities/{modality_name}/store", {"Resources": [study_id], "Synchronous": True}
        )
        if answer.get("FailedInstancesCount", 0):
            raise OrthancError(f"send_study to {modality_name}: {answer}")
        return answer

    def echo(self, modality_name: str) -> bool:
        """C-ECHO a ``DicomModalities`` entry; False when the peer does not answer."""
        try:
            self.rest_post(f"/modalities/{modality_name}/echo", {})
        except OrthancError:
            return False
        return True


class RecordingStorageSCP:
    """A pynetdicom storage SCP that records what it receives: the delivery destination in tests.

    ``start()``/``stop()`` may be repeated and keep the same port, to play a destination that goes
    down and comes back. ``counts`` (by SOPInstanceUID) lets a test prove nothing was sent twice.

    Args:
        aet: this SCP's AE title.
        port: port to listen on; a free one if None. Fixed at construction so restarts reuse it.
        host: listen address.
        status: C-STORE status to answer (e.g. ``0xA700`` Out of Resources for fault tests).
        keep_pixels: if False, drop PixelData from recorded datasets to save memory.
    """

    def __init__(
        self,
        aet: str = "RECEIVER",
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        status: int = 0x0000,
        keep_pixels: bool = True,
    ) -> None:
        self.aet = aet
        self.host = host
        self.port = port if port is not None else free_port()
        self.status = status
        self.keep_pixels = keep_pixels
        self.received: list[Dataset] = []
        self.counts: Counter[str] = Counter()
        self.calling_aets: list[str] = []
        self._cond = threading.Condition()
        self._server: Any = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def _make_ae(self) -> Any:
        from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, StoragePresentationContexts
        from pynetdicom.sop_class import Verification

        ae = AE(ae_title=self.aet)
        syntaxes = list(ALL_TRANSFER_SYNTAXES)
        abstract = [cx.abstract_syntax for cx in StoragePresentationContexts]
        if SEGMENTATION_STORAGE not in abstract:
            abstract.append(SEGMENTATION_STORAGE)
        for uid in abstract:
            ae.add_supported_context(uid, syntaxes)
        ae.add_supported_context(Verification)
        # Quick failure detection in tests; a hung peer should not stall the suite.
        ae.acse_timeout = 10
        ae.dimse_timeout = 10
        ae.network_timeout = 10
        ae.maximum_associations = 16
        return ae

    def _on_store(self, event: Any) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        if not self.keep_pixels and "PixelData" in ds:
            del ds.PixelData
        with self._cond:
            self.received.append(ds)
            self.counts[str(ds.get("SOPInstanceUID", ""))] += 1
            self.calling_aets.append(str(event.assoc.requestor.ae_title).strip())
            self._cond.notify_all()
        return self.status

    def start(self) -> RecordingStorageSCP:
        """Listen (non-blocking) on the configured port; a no-op when already running."""
        from pynetdicom import evt

        if self._server is None:
            ae = self._make_ae()
            self._server = ae.start_server(
                self.address, block=False, evt_handlers=[(evt.EVT_C_STORE, self._on_store)]
            )
        return self

    def stop(self) -> None:
        """Abort open associations and close the listening socket; what was received is kept."""
        server, self._server = self._server, None
        if server is None:
            return
        for assoc in list(server.active_associations):
            assoc.abort()
        server.shutdown()

    def wait_for(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least ``n`` datasets were received in total; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.received) >= n, timeout=timeout)

    def uids(self) -> list[str]:
        """SOPInstanceUIDs received, in arrival order (repeats included)."""
        with self._cond:
            return [str(ds.get("SOPInstanceUID", "")) for ds in self.received]

    def __enter__(self) -> RecordingStorageSCP:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
