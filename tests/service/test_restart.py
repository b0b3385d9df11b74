"""``kill -9`` of a real ``ldedit serve`` process mid-job, then a restart: the job completes exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ldedit_core.service import JobStore
from tests.dicom_peers import RecordingStorageSCP, free_port
from tests.service.conftest import c_store, echo, study

LDEDIT = str(Path(sys.executable).with_name("ldedit"))


def _config(tmp_path: Path, port: int, dest_port: int) -> Path:
    path = tmp_path / "serve.toml"
    path.write_text(
        f"""
[server]
port = {port}
state_dir = "{tmp_path / "state"}"
min_free_mb = 0
log_file = "{tmp_path / "serve.log"}"
[completion]
stable_age = 0.3
[worker]
device = "cpu"
[delivery]
backoff_initial = 0.2
backoff_max = 0.5
max_attempts = 100
[peers.DEST]
port = {dest_port}
[rules.default]
followups = 3
"""
    )
    return path


def _serve(config: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([LDEDIT, "serve", "--config", str(config)], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if echo(port):
            return proc
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"ldedit serve did not come up: {proc.communicate()}")


def _wait_state(db: Path, state: str, timeout: float) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        store = JobStore(db)
        jobs = store.jobs()
        store.close()
        if jobs and all(j.state == state for j in jobs):
            return jobs
        time.sleep(0.05)
    raise AssertionError(f"jobs not {state} after {timeout} s: {jobs}")


def test_killed_while_editing_then_restarted_delivers_each_result_once(tmp_path):
    port = free_port()
    with RecordingStorageSCP(aet="DEST") as dest:
        config = _config(tmp_path, port, dest.port)
        db = tmp_path / "state" / "jobs.sqlite"
        server = _serve(config, port)
        try:
            assert c_store(port, study(tmp_path, seed=41, size=256)) == 0x0000
            _wait_state(db, "running", 60)
            time.sleep(0.5)
            server.send_signal(signal.SIGKILL)
            server.wait(10)
            assert _wait_state(db, "running", 1)  # the kill left it mid-edit
            assert dest.received == []
            server = _serve(config, port)
            (job,) = _wait_state(db, "done", 300)
        finally:
            server.send_signal(signal.SIGTERM)
            assert server.wait(60) == 0, "SIGTERM must stop ldedit serve cleanly"
        assert job.attempts == 2
        assert len(dest.counts) == 4 and set(dest.counts.values()) == {1}  # 3 follow-ups + ROI SEG, once each
    assert not list((tmp_path / "state" / "results").glob("*.partial")), "a half-written result was left"
    assert not list((tmp_path / "state" / "spool").rglob("*.dcm")), "spool kept after delivery"
    assert "recovered" in (tmp_path / "serve.log").read_text()


def test_killed_while_the_destination_is_down_then_restarted_delivers_once(tmp_path):
    port = free_port()
    dest = RecordingStorageSCP(aet="DEST")  # down at first
    config = _config(tmp_path, port, dest.port)
    db = tmp_path / "state" / "jobs.sqlite"
    server = _serve(config, port)
    try:
        assert c_store(port, study(tmp_path, seed=42)) == 0x0000
        _wait_state(db, "sending", 300)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        with dest:
            server = _serve(config, port)
            _wait_state(db, "done", 120)
            assert dest.wait_for(4)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    assert len(dest.counts) == 4 and set(dest.counts.values()) == {1}
