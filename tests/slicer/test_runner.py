"""``EditProcess`` and ``run_blocking`` on small stand-in scripts: events, errors, cancelling a tree."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest
from LDEditSlicerLib import EditProcess, parse_line, run_blocking

posix_only = pytest.mark.skipif(sys.platform.startswith("win"), reason="process groups and signals: POSIX")


def script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / f"child_{abs(hash(body))}.py"
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def drain(process: EditProcess, timeout: float = 30.0) -> list[dict]:
    """What a Qt timer would see: poll until it ends, then once more."""
    events, deadline = [], time.monotonic() + timeout
    while process.running and time.monotonic() < deadline:
        events += process.poll_events()
        time.sleep(0.02)
    return events + process.poll_events()


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rpartition(")")[2].split()[0] == "Z")


def group_alive(pgid: int) -> bool:
    """Any live process in group ``pgid``."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def wait_for(path: Path, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def test_parse_line():
    assert parse_line('{"stage": "inversion", "fraction": 0.5, "message": "w"}\n') == {
        "type": "progress",
        "stage": "inversion",
        "fraction": 0.5,
        "message": "w",
    }
    assert parse_line('{"stage": "result", "fraction": 1.0, "followups": 2}')["type"] == "result"
    assert parse_line("loading weights...") == {"type": "log", "message": "loading weights..."}
    assert parse_line("42") == {"type": "log", "message": "42"}  # JSON, but not an event
    assert parse_line('{"note": 1}') == {"type": "log", "note": 1}
    assert parse_line("  \n") is None


def test_events_in_order_and_the_cli_error_line(tmp_path):
    cmd = script(
        tmp_path,
        """
        import json, sys
        for f in (0.0, 0.5, 1.0):
            print(json.dumps({"stage": "inversion", "fraction": f, "message": f"step {f}"}), flush=True)
        print("a plain line")
        print()
        print(json.dumps({"stage": "result", "fraction": 1.0, "message": "out"}))
        print("usage: ldedit edit [-h] ...", file=sys.stderr)
        print("ldedit edit: error: /x/mask.nrrd: empty mask: every pixel is zero", file=sys.stderr)
        sys.exit(2)
        """,
    )
    process = EditProcess(cmd)
    assert not process.running and process.returncode is None and process.error_message == ""
    process.start()
    events = drain(process)
    assert [e["type"] for e in events] == ["progress"] * 3 + ["log", "result", "exit"]
    assert [e["fraction"] for e in events[:3]] == [0.0, 0.5, 1.0]
    assert events[3]["message"] == "a plain line"
    assert events[-1] == {
        "type": "exit",
        "returncode": 2,
        "cancelled": False,
        "error": "/x/mask.nrrd: empty mask: every pixel is zero",
    }
    assert not process.running and process.returncode == 2 and process.wait(0) == 2
    assert process.error_message == "/x/mask.nrrd: empty mask: every pixel is zero"
    assert process.stderr_lines[0].startswith("usage:")


def test_a_crash_gives_the_last_stderr_lines(tmp_path):
    cmd = script(tmp_path, "import sys\nraise RuntimeError('CUDA out of memory. Tried to allocate 2 GiB')\n")
    code, events, error = run_blocking(cmd)
    assert code == 1 and events[-1]["type"] == "exit"
    assert error.startswith("ldedit failed with exit status 1:")
    assert error.endswith("RuntimeError: CUDA out of memory. Tried to allocate 2 GiB")


def test_success_has_no_error_and_on_event_sees_everything(tmp_path):
    cmd = script(tmp_path, 'print(\'{"stage": "loading", "fraction": 1.0, "message": "ok"}\')\n')
    seen = []
    code, events, error = run_blocking(cmd, on_event=seen.append, timeout=60)
    assert (code, error) == (0, "") and seen == events and [e["type"] for e in events] == ["progress", "exit"]


@posix_only
def test_killed_by_a_signal_is_said_so(tmp_path):
    code, _, error = run_blocking(
        script(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    )
    assert code == -signal.SIGKILL and "killed by SIGKILL" in error


def test_poll_events_never_blocks_and_misuse_is_refused(tmp_path):
    process = EditProcess(script(tmp_path, "import time\ntime.sleep(30)\n"))
    with pytest.raises(RuntimeError, match="start"):
        process.wait(0)
    process.cancel()  # before start: nothing to stop
    process = EditProcess(script(tmp_path, "import time\ntime.sleep(30)\n")).start()
    try:
        started = time.monotonic()
        assert process.poll_events() == [] and time.monotonic() - started < 0.5
        assert process.running and process.returncode is None and process.error_message == ""
        with pytest.raises(TimeoutError):
            process.wait(0.1)
        with pytest.raises(RuntimeError, match="already started"):
            process.start()
    finally:
        process.cancel()
        process.wait(30)
    assert process.cancelled and process.error_message == "Cancelled; nothing was written."
    with pytest.raises(ValueError, match="argv"):
        EditProcess("ldedit edit")


@posix_only
def test_cancel_sends_sigterm_to_the_whole_group(tmp_path):
    """ldedit stops cleanly on SIGTERM (exit 130); a process it started gets the signal too."""
    pids = tmp_path / "pids"
    cmd = script(
        tmp_path,
        f"""
        import signal, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pids)!r}, "w").write(str(child.pid))
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(130))
        print('{{"stage": "inversion", "fraction": 0.1, "message": "busy"}}', flush=True)
        time.sleep(60)
        """,
    )
    process = EditProcess(cmd).start()
    grandchild = int(wait_for(pids))
    assert os.getpgid(grandchild) == process.pid  # its own group, led by the child
    started = time.monotonic()
    process.cancel()
    assert process.wait(20) == 130 and time.monotonic() - started < 10
    assert process.poll_events()[-1] == {
        "type": "exit",
        "returncode": 130,
        "cancelled": True,
        "error": "Cancelled; nothing was written.",
    }
    assert process.error_message == "Cancelled; nothing was written."
    assert not alive(grandchild) and not group_alive(process.pid)


@posix_only
def test_what_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    ready = tmp_path / "ready"
    cmd = script(
        tmp_path,
        f"""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open({str(ready)!r}, "w").write("1")
        time.sleep(60)
        """,
    )
    process = EditProcess(cmd, grace_s=0.5).start()
    wait_for(ready)
    started = time.monotonic()
    process.cancel()
    assert process.wait(20) == -signal.SIGKILL
    assert 0.4 < time.monotonic() - started < 10
    assert process.error_message.startswith("Cancelled by force")


@posix_only
def test_leftovers_in_the_group_are_swept_when_the_child_exits(tmp_path):
    """A grandchild that ignores SIGTERM does not outlive the run (nor hold its stdout open)."""
    pids = tmp_path / "pids"
    cmd = script(
        tmp_path,
        f"""
        import signal, subprocess, sys, time
        code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
        child = subprocess.Popen([sys.executable, "-c", code])
        open({str(pids)!r}, "w").write(str(child.pid))
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(130))
        time.sleep(60)
        """,
    )
    process = EditProcess(cmd, grace_s=30).start()
    grandchild = int(wait_for(pids))
    time.sleep(0.3)  # let it install its handler
    process.cancel()
    assert process.wait(10) == 130  # well before the 30 s grace: the sweep, not the timer
    assert not alive(grandchild) and not group_alive(process.pid)


@posix_only
def test_run_blocking_timeout_stops_the_child(tmp_path):
    pid_file = tmp_path / "pid"
    cmd = script(
        tmp_path, f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n"
    )
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="stopped"):
        run_blocking(cmd, timeout=1.0)
    assert time.monotonic() - started < 15
    assert not alive(int(wait_for(pid_file)))


@posix_only
def test_an_exception_in_on_event_stops_the_child(tmp_path):
    pid_file = tmp_path / "pid"
    cmd = script(
        tmp_path,
        f"""
        import os, time
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        print("hello", flush=True)
        time.sleep(60)
        """,
    )

    def boom(event):
        raise KeyError("GUI went away")

    with pytest.raises(KeyError):
        run_blocking(cmd, on_event=boom)
    assert not alive(int(wait_for(pid_file)))
