"""Benchmark ``ldedit serve``: receipt throughput against dcmtk's storescp, and study-to-result latency.

    python benchmarks/service.py [--quick] [--repeat 3] [--threads 1] [--json docs/figures/service.json]

1. Receipt: instances/s and MB/s over one association, with pynetdicom as the sender (in a process of its
   own, streaming the files: ``STORE_SEND_CHUNKED_DATASET``), for 200 small (256 x 256) and 20 large
   (3000 x 2500) 16-bit CR instances. Receivers, in the same run and from the same sender:
   ``ldedit serve`` (``stable_age`` 3600 s, so no edit runs: each instance is checked, its pixels decoded,
   fsynced, renamed and recorded in SQLite), dcmtk's ``storescp --output-directory DIR PORT`` (the
   reference), and a bare pynetdicom SCP that only keeps the file (the floor of the Python DICOM stack).
   Two setups: ``defaults`` (everything as it comes: pynetdicom never sets TCP_NODELAY and Debian's
   storescp keeps Nagle's algorithm on unless ``TCP_NODELAY=1`` is in its environment, so on loopback
   each small instance to storescp waits for two ~40 ms delayed ACKs) and ``nodelay`` (the sender sets
   TCP_NODELAY and storescp runs with ``TCP_NODELAY=1``: the fair comparison of the receipt work).
   The time spent in each step of LDEdit's C-STORE handler is measured too (per instance, median).
2. Latency: a 512 x 512 CR study in, 5 follow-ups and the ROI SEG out to a recording SCP, default bundle
   and default edit options, ``stable_age`` 1 s: from the last instance acknowledged to the first (and the
   last) result received, broken down into the quiet period, the wait for a worker, the edit and the
   delivery. On the CPU and, where CUDA is present, on the GPU; median of ``--repeat`` runs, the first
   of which also loads the bundle (the first study after a start).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_devices, machine, save_json

HOST = "127.0.0.1"
SENDER_AE = "BENCH"
SC = "1.2.840.10008.5.1.4.1.1.7"
SEG = "1.2.840.10008.5.1.4.1.1.66.4"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --- instances -------------------------------------------------------------------------------------------


def make_instances(folder: Path, n: int, studies: int, rows: int, cols: int, seed: int = 0) -> list[Path]:
    """``n`` uncompressed 16-bit CR files of one ``rows`` x ``cols`` array, spread over ``studies`` studies,
    each with its own UIDs (one series per study)."""
    from pydicom.uid import generate_uid

    from ldedit_core.io import new_radiograph_dataset

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols]
    img = 20000 + 15000 * np.sin(y / (rows / 10)) * np.cos(x / (cols / 10)) + rng.normal(0, 500, (rows, cols))
    ds = new_radiograph_dataset(np.clip(img, 0, 65535).astype(np.uint16), bits_stored=16)
    folder.mkdir(parents=True, exist_ok=True)
    study_uids = [(generate_uid(), generate_uid()) for _ in range(studies)]
    paths = []
    for k in range(n):
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uids[k % studies]
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = k // studies + 1
        path = folder / f"{k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


# --- the sender (its own process) ------------------------------------------------------------------------


def send_study(port: int, called_ae: str, paths: list[str], nodelay: bool = False) -> dict:
    """C-STORE ``paths`` on one association, streamed from the files; wall-clock times of each step.

    ``nodelay``: set TCP_NODELAY on the socket (pynetdicom never does: Nagle's algorithm stays on).
    """
    import socket as socket_module

    import pydicom
    from pynetdicom import AE, _config

    _config.STORE_SEND_CHUNKED_DATASET = True
    meta = pydicom.filereader.read_file_meta_info(paths[0])
    ae = AE(ae_title=SENDER_AE)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 120
    ae.add_requested_context(meta.MediaStorageSOPClassUID, [meta.TransferSyntaxUID])
    t_request = time.time()
    assoc = ae.associate(HOST, port, ae_title=called_ae)
    if not assoc.is_established:
        raise RuntimeError(f"no association with {called_ae} on port {port}")
    if nodelay:
        assoc.dul.socket.socket.setsockopt(socket_module.IPPROTO_TCP, socket_module.TCP_NODELAY, 1)
    statuses = []
    t_first = time.time()
    for path in paths:
        status = assoc.send_c_store(Path(path))
        statuses.append(int(status.Status) if status is not None and "Status" in status else -1)
    t_last = time.time()
    assoc.release()
    return {
        "t_request": t_request,
        "t_first_request": t_first,
        "t_last_response": t_last,
        "t_released": time.time(),
        "failed": sum(s != 0 for s in statuses),
    }


# --- receivers -------------------------------------------------------------------------------------------


def _echo(port: int, called_ae: str) -> bool:
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    ae = AE(ae_title=SENDER_AE)
    ae.acse_timeout = ae.network_timeout = 2
    ae.add_requested_context(Verification)
    assoc = ae.associate(HOST, port, ae_title=called_ae)
    if not assoc.is_established:
        return False
    assoc.release()
    return True


@contextmanager
def storescp(folder: Path, nodelay: bool = False) -> Iterator[tuple[int, str]]:
    """dcmtk's storescp, writing every instance to ``folder`` (its defaults otherwise: max PDU 16 kB).

    ``nodelay``: dcmtk's ``TCP_NODELAY=1`` environment variable (Debian's build keeps Nagle on by default).
    """
    folder.mkdir(parents=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "TCP_NODELAY"}
    if nodelay:
        env["TCP_NODELAY"] = "1"
    proc = subprocess.Popen(
        ["storescp", "--output-directory", str(folder), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        while not _echo(port, "STORESCP"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("storescp did not start")
            time.sleep(0.1)
        yield port, "STORESCP"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def pynetdicom_floor(folder: Path) -> Iterator[tuple[int, str]]:
    """pynetdicom receiving to a temporary file (as LDEdit does) and keeping it: no checks, no fsync."""
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, _config, evt

    from ldedit_core.service.intake import CR

    folder.mkdir(parents=True)
    _config.STORE_RECV_CHUNKED_DATASET = True

    def on_store(event) -> int:
        os.link(event.dataset_path, folder / f"{event.request.AffectedSOPInstanceUID}.dcm")
        return 0x0000

    ae = AE(ae_title="FLOOR")
    ae.maximum_pdu_size = 16382
    ae.add_supported_context(CR, ALL_TRANSFER_SYNTAXES)
    server = ae.start_server((HOST, 0), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    try:
        yield server.server_address[1], "FLOOR"
    finally:
        server.shutdown()


class Phases:
    """Time spent in each step of ``Service._on_store``, by wrapping the functions it calls."""

    STEPS = ("handler", "check_room", "check_instance", "decode", "duplicate_lookup", "spool", "record")

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {k: [] for k in self.STEPS}
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, name: str, step: str) -> None:
        original = getattr(owner, name)
        had_own = name in vars(owner)

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[step].append(time.perf_counter() - t0)

        setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, original) if had_own else delattr(owner, name))

    def undo(self) -> None:
        while self._undo:
            self._undo.pop()()

    def median_ms(self) -> dict[str, float]:
        ms = {k: 1000 * statistics.median(v) for k, v in self.seconds.items() if v}
        if "check_instance" in ms and "decode" in ms:
            ms["parse_and_checks"] = ms.pop("check_instance") - ms["decode"]
        return ms


@contextmanager
def ldedit_serve(folder: Path, phases: Phases | None = None) -> Iterator[tuple[int, str]]:
    """``ldedit serve`` in this process, logging to a file as the command does; nothing is ever edited."""
    from ldedit_core.service import Peer, Service, ServiceConfig, intake
    from ldedit_core.service.logs import LOGGER, setup_logging

    cfg = ServiceConfig(
        port=0,
        state_dir=folder,
        stable_age=3600,
        device="cpu",
        peers={SENDER_AE: Peer(SENDER_AE, SENDER_AE, HOST, free_port())},
    )
    folder.mkdir(parents=True)
    setup_logging(str(folder / "serve.log"))
    service = Service(cfg)
    if phases is not None:
        phases.wrap(service, "_on_store", "handler")
        for name, step in (
            ("check_room", "check_room"),
            ("check_instance", "check_instance"),
            ("read_radiograph", "decode"),
            ("spool_instance", "spool"),
        ):
            phases.wrap(intake, name, step)
        phases.wrap(service.store, "instance_job", "duplicate_lookup")
        phases.wrap(service.store, "add_instance", "record")
    service.start()
    try:
        yield service.port, cfg.ae_title
    finally:
        service.stop()
        if phases is not None:
            phases.undo()
        for handler in LOGGER.handlers:
            handler.close()


SETUPS = {
    "defaults": "pynetdicom sender and storescp as they come (Nagle's algorithm on)",
    "nodelay": "sender with TCP_NODELAY, storescp with TCP_NODELAY=1 (LDEdit as it comes)",
}


def bench_receipt(pool: ProcessPoolExecutor, tmp: Path, kind: str, paths: list[Path], repeat: int) -> dict:
    """Each receiver in each setup ``repeat`` times (interleaved), the same files from the same sender."""
    receivers = {"ldedit": ldedit_serve, "pynetdicom": pynetdicom_floor, "storescp": storescp}
    mb = sum(p.stat().st_size for p in paths) / 1e6
    runs: dict[str, dict[str, list[dict]]] = {setup: {k: [] for k in receivers} for setup in SETUPS}
    phases = Phases()
    for r in range(repeat):
        for setup in SETUPS:
            nodelay = setup == "nodelay"
            for name, receiver in receivers.items():
                folder = tmp / f"{kind}-{setup}-{name}-{r}"
                extra: dict[str, Any] = {"ldedit": {"phases": phases}, "storescp": {"nodelay": nodelay}}.get(
                    name, {}
                )
                with receiver(folder, **extra) as (port, aet):
                    sent = pool.submit(send_study, port, aet, [str(p) for p in paths], nodelay).result()
                if sent["failed"]:
                    raise RuntimeError(f"{name} refused {sent['failed']} of {len(paths)} instances")
                stored = sum(1 for p in folder.rglob("*") if p.suffix == ".dcm" or p.name.startswith("CR."))
                if stored < len(paths):
                    raise RuntimeError(f"{name} kept {stored} files of {len(paths)}")
                runs[setup][name].append(sent)
                shutil.rmtree(folder)
                print(
                    f"receipt {kind} {setup}: {name} run {r + 1}/{repeat} done", file=sys.stderr, flush=True
                )
    out: dict[str, Any] = {"instances": len(paths), "megabytes": mb, "setups": {}}
    for setup, by_receiver in runs.items():
        rec = {}
        for name, sends in by_receiver.items():
            seconds = [s["t_last_response"] - s["t_first_request"] for s in sends]
            med = statistics.median(seconds)
            rec[name] = {
                "seconds": seconds,
                "association_s": statistics.median(s["t_first_request"] - s["t_request"] for s in sends),
                "instances_per_s": len(paths) / med,
                "mb_per_s": mb / med,
            }
        out["setups"][setup] = {
            "what": SETUPS[setup],
            "receivers": rec,
            "ratio_ldedit_storescp": rec["ldedit"]["instances_per_s"] / rec["storescp"]["instances_per_s"],
            "ratio_ldedit_pynetdicom": rec["ldedit"]["instances_per_s"]
            / rec["pynetdicom"]["instances_per_s"],
        }
    ms = phases.median_ms()
    ldedit_s = [t for setup in SETUPS for t in out["setups"][setup]["receivers"]["ldedit"]["seconds"]]
    ms["transfer_and_pynetdicom"] = 1000 * statistics.median(ldedit_s) / len(paths) - ms["handler"]
    out["ldedit_handler_ms"] = ms
    return out


# --- latency ---------------------------------------------------------------------------------------------


class Destination:
    """A pynetdicom storage SCP that notes when each result arrives (wall clock) and of which class."""

    def __init__(self) -> None:
        from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt

        from ldedit_core.service.intake import ACCEPTED_CLASSES

        self.arrivals: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        ae = AE(ae_title="DEST")
        for uid in ACCEPTED_CLASSES:
            ae.add_supported_context(uid, ALL_TRANSFER_SYNTAXES)
        self._server = ae.start_server(
            (HOST, 0), block=False, evt_handlers=[(evt.EVT_C_STORE, self._on_store)]
        )
        self.port = self._server.server_address[1]

    def _on_store(self, event) -> int:
        with self._cond:
            self.arrivals.append((time.time(), str(event.request.AffectedSOPClassUID)))
            self._cond.notify_all()
        return 0x0000

    def wait_for(self, n: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.arrivals) >= n, timeout)

    def close(self) -> None:
        self._server.shutdown()


class Events(logging.Handler):
    """The service's log records, with their times: ``study complete``, ``job running``, ``job edited``..."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[float, str, dict]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.created, record.getMessage(), dict(getattr(record, "fields", {}))))

    def time_of(self, event: str, job: int) -> float:
        return next(t for t, e, f in self.records if e == event and f.get("job") == job)


def bench_latency(
    pool: ProcessPoolExecutor, tmp: Path, device: str, repeat: int, followups: int, options: dict
) -> dict:
    """``repeat`` one-image studies through one running service; per run, where the time went."""
    from ldedit_core.io import write_radiograph_dicom
    from ldedit_core.phantoms import make_phantom
    from ldedit_core.service import Peer, Rule, Service, ServiceConfig
    from ldedit_core.service.logs import LOGGER, setup_logging

    dest = Destination()
    state = tmp / f"latency-{device}"
    state.mkdir(parents=True)
    cfg = ServiceConfig(
        port=0,
        state_dir=state,
        stable_age=1.0,
        device=device,
        peers={SENDER_AE: Peer(SENDER_AE, SENDER_AE, HOST, dest.port)},
        rules={"default": Rule(followups=followups, options=options)},
    )
    setup_logging(str(state / "serve.log"))
    events = Events()
    LOGGER.addHandler(events)
    service = Service(cfg)
    service.start()
    runs = []
    expected = followups + 1  # the follow-ups and the ROI as a DICOM SEG
    try:
        for r in range(repeat):
            source = write_radiograph_dicom(
                make_phantom(100 + r, size=512).image,
                tmp / f"latency-{device}-{r}.dcm",
                patient_id=f"BENCH-{r}",
                study_date="20260105",
            )
            before = len(dest.arrivals)
            sent = pool.submit(send_study, service.port, cfg.ae_title, [str(source)]).result()
            if (
                sent["failed"]
                or not dest.wait_for(before + expected, timeout=900)
                or not service.wait_idle(60)
            ):
                raise RuntimeError(
                    f"latency run {r + 1} on {device}: no results ({service.store.jobs()[-1]})"
                )
            job = service.store.jobs()[-1]
            arrivals = [t for t, _ in dest.arrivals[before:]]
            t0 = sent["t_last_response"]
            complete, running = (
                events.time_of("study complete", job.id),
                events.time_of("job running", job.id),
            )
            edited = events.time_of("job edited", job.id)
            summary = json.loads(next((cfg.results_dir / f"job-{job.id}").glob("*/summary.json")).read_text())
            runs.append(
                {
                    "quiet_s": complete - t0,
                    "queue_s": running - complete,
                    "edit_s": edited - running,
                    "delivery_first_s": min(arrivals) - edited,
                    "first_result_s": min(arrivals) - t0,
                    "last_result_s": max(arrivals) - t0,
                    "results": len(arrivals),
                    "job_table_s": job.updated - job.created,
                    "edit_stages_s": summary.get("timings_s", {}),
                    "bundle_loaded": r == 0,
                }
            )
            print(f"latency {device}: run {r + 1}/{repeat} done", file=sys.stderr, flush=True)
    finally:
        service.stop()
        dest.close()
        LOGGER.removeHandler(events)
        for handler in LOGGER.handlers:
            handler.close()
    keys = [k for k, v in runs[0].items() if isinstance(v, float)]
    return {"runs": runs, "median": {k: statistics.median(run[k] for run in runs) for k in keys}}


# --- report ----------------------------------------------------------------------------------------------


def dcmtk_version() -> str:
    try:
        out = subprocess.run(["storescp", "--version"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return "not installed"
    return out.splitlines()[0].strip("$ ").strip() if out else "unknown"


def print_tables(results: dict) -> None:
    print(
        f"Machine: {results['machine']}, torch {results['torch']}, pynetdicom {results['pynetdicom']}, "
        f"{results['dcmtk']}; {results['threads']} CPU thread(s); load average at start "
        f"{results['load_average'][0]:.2f}\n"
    )
    print(
        "| instances | receiver | instances/s | MB/s | vs storescp "
        "| instances/s, Nagle off | MB/s, Nagle off | vs storescp, Nagle off |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    names = {
        "ldedit": "`ldedit serve` (check, decode, fsync, SQLite)",
        "pynetdicom": "pynetdicom, file kept (no checks, no fsync)",
        "storescp": "dcmtk `storescp` (reference)",
    }
    for r in results["receipt"].values():
        label = f"{r['instances']} x {r['size']} 16-bit CR, {r['studies']} studies, {r['megabytes']:.0f} MB"
        for name in names:
            cells = []
            for setup in SETUPS:
                rec = r["setups"][setup]["receivers"]
                v, ref = rec[name], rec["storescp"]["instances_per_s"]
                cells += [
                    f"{v['instances_per_s']:.1f}",
                    f"{v['mb_per_s']:.1f}",
                    f"{v['instances_per_s'] / ref:.2f}x",
                ]
            print(f"| {label} | {names[name]} | " + " | ".join(cells) + " |")
    print("\nLDEdit's C-STORE handler, ms per instance (median):\n")
    steps = ["handler", "check_room", "parse_and_checks", "decode", "duplicate_lookup", "spool", "record"]
    steps.append("transfer_and_pynetdicom")
    print("| instances | " + " | ".join(steps) + " |")
    print("| --- |" + " --- |" * len(steps))
    for r in results["receipt"].values():
        ms = r["ldedit_handler_ms"]
        print(f"| {r['size']} | " + " | ".join(f"{ms.get(k, float('nan')):.1f}" for k in steps) + " |")
    print("\nLatency, last instance acknowledged -> results received, s (median):\n")
    print("| device | quiet period | wait for a worker | edit | delivery of the first | first result "
          "| last result | runs (first result, s) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, lat in results["latency"].items():
        if "median" not in lat:
            print(f"| {name} | {lat['note']} | | | | | | |")
            continue
        m = lat["median"]
        each = ", ".join(f"{run['first_result_s']:.1f}" for run in lat["runs"])
        print(
            f"| {name} | {m['quiet_s']:.2f} | {m['queue_s']:.2f} | {m['edit_s']:.1f} | "
            f"{m['delivery_first_s']:.2f} | {m['first_result_s']:.1f} | {m['last_result_s']:.1f} | {each} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer instances, one run, a short inversion")
    parser.add_argument("--repeat", type=int, help="runs of each measurement (default 3; --quick 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for the edits")
    parser.add_argument("--skip-latency", action="store_true", help="receipt only")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    import pydicom
    import pynetdicom
    import torch

    torch.set_num_threads(args.threads)
    repeat = args.repeat or (1 if args.quick else 3)
    small_n, large_n = (50, 5) if args.quick else (200, 20)
    # --quick: a short inversion, so the latency run takes seconds; the figures are then not the default's
    options = {"inversion": {"w_steps": 5, "wplus_steps": 5}} if args.quick else {}
    results: dict[str, Any] = {
        "machine": machine(),
        "torch": torch.__version__,
        "pydicom": pydicom.__version__,
        "pynetdicom": pynetdicom.__version__,
        "dcmtk": dcmtk_version(),
        "threads": args.threads,
        "load_average": list(os.getloadavg()),
        "quick": args.quick,
        "repeat": repeat,
        "receipt": {},
        "latency": {},
    }
    context = multiprocessing.get_context("spawn")
    with (
        tempfile.TemporaryDirectory(prefix="ldedit-bench-service-") as tmp_name,
        ProcessPoolExecutor(1, mp_context=context) as pool,
    ):
        tmp = Path(tmp_name)
        for kind, n, studies, rows, cols in (
            ("small", small_n, 10, 256, 256),
            ("large", large_n, 10, 3000, 2500),
        ):
            paths = make_instances(tmp / f"{kind}-source", n, min(studies, n), rows, cols)
            r = bench_receipt(pool, tmp, kind, paths, repeat)
            r.update(size=f"{rows}x{cols}", studies=min(studies, n))
            results["receipt"][kind] = r
            shutil.rmtree(tmp / f"{kind}-source")
        if not args.skip_latency:
            devices = bench_devices(args.threads)
            for device, name in devices:
                results["latency"][name] = {
                    "device": device.type,
                    **bench_latency(pool, tmp, device.type, repeat, 5, options),
                }
            if len(devices) == 1:
                results["latency"]["CUDA"] = {"note": "not measured: no GPU in this session"}
            results["latency_options"] = options or "defaults"
    print_tables(results)
    if args.json:
        save_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
