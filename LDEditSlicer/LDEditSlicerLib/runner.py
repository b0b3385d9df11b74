"""Run ``ldedit edit --json-progress`` in a subprocess the GUI can watch and stop without freezing.

torch runs in its own process, so Slicer never loads it and a crash or out-of-memory there cannot take
Slicer down. The child gets its own process group (a new session on POSIX), so Cancel reaches everything it
started. Cancel sends SIGTERM first, which ``ldedit`` turns into a clean stop that leaves nothing in OUT,
and SIGKILL only if it has not ended after a grace period.

Events (dicts) come from a queue fed by a reader thread:

* ``{"type": "progress", "stage", "fraction", "message"}``: a JSON progress line of ldedit;
* ``{"type": "result", ...}``: ldedit's last line (``stage == "result"``, with the run's summary);
* ``{"type": "log", "message"}``: any other stdout line;
* ``{"type": "exit", "returncode", "cancelled", "error"}``: added by the runner, always the very last.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: Seconds between SIGTERM and SIGKILL: ldedit checks for a stop between optimisation steps (well under 1 s
#: on a CPU); the bundle loading before that is the slowest part that cannot be interrupted.
DEFAULT_GRACE_S = 15.0
#: stderr lines kept (a traceback's end, ldedit's one-line message).
STDERR_LINES = 200
IS_WINDOWS = sys.platform.startswith("win")
#: Seconds to wait, after the child ended, for the members of its group swept by SIGKILL to be gone.
GROUP_GONE_S = 2.0


class EditProcess:
    """One subprocess, its events and its outcome. Not restartable: make a new one per run.

    Example (a Qt timer calling ``poll``)::

        process = EditProcess(build_edit_command(params, ldedit=[python, "-m", "ldedit_core.cli.main"]))
        process.start()
        ...
        for event in process.poll_events(): show(event)
        if not process.running: done(process.returncode, process.error_message)
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        grace_s: float = DEFAULT_GRACE_S,
    ) -> None:
        if isinstance(command, str) or not command:
            raise ValueError("command must be a non-empty argv list, e.g. from build_edit_command()")
        self.command = [os.fspath(part) for part in command]
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.grace_s = float(grace_s)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._done = threading.Event()
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._kill_lock = threading.Lock()
        self._reaped = False
        self._threads: list[threading.Thread] = []
        self._returncode: int | None = None

    # --- state ----------------------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The child's pid (also its process group id on POSIX), once started."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Started and not finished. False only once every event, the exit event last, is in the queue."""
        return self._proc is not None and not self._done.is_set()

    @property
    def returncode(self) -> int | None:
        """None while running; 0 ok, 2 bad input, 130 stopped by a signal; negative: killed (POSIX)."""
        return self._returncode

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def stderr_lines(self) -> list[str]:
        """The last :data:`STDERR_LINES` lines the child wrote on stderr."""
        with self._lock:
            return list(self._stderr)

    @property
    def error_message(self) -> str:
        """Empty while running or after success; else one message to show the user.

        ldedit's own one-line message (``ldedit edit: error: ...``) when it wrote one, else a generic one with
        the last stderr lines (a crash's traceback end).
        """
        code = self._returncode
        if code is None or code == 0:
            return ""
        if self.cancelled and code in (130, -signal.SIGTERM):  # ldedit's clean stop, or before it began
            return "Cancelled; nothing was written."
        if self.cancelled and (IS_WINDOWS or code == -getattr(signal, "SIGKILL", 9)):
            return "Cancelled by force; a hidden '.OUT.partial-*' folder may be left beside OUT."
        return _error_message(code, self.stderr_lines)

    # --- control --------------------------------------------------------------------------------------------

    def start(self) -> EditProcess:
        """Start the child and its reader threads; returns self."""
        if self._proc is not None:
            raise RuntimeError("this EditProcess was already started; make a new one for another run")
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")  # progress lines reach us as they are printed
        env.setdefault("PYTHONIOENCODING", "utf-8")
        kwargs: dict[str, Any] = {}
        if IS_WINDOWS:  # own group, and no console window popping up over Slicer
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | 0x08000000  # CREATE_NO_WINDOW
        else:
            kwargs["start_new_session"] = True  # own session and process group: pgid == pid
        self._proc = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            env=env,
            cwd=self.cwd,
            **kwargs,
        )
        readers = [
            threading.Thread(target=self._read_stdout, name="ldedit-stdout", daemon=True),
            threading.Thread(target=self._read_stderr, name="ldedit-stderr", daemon=True),
        ]
        self._threads = readers
        for t in readers:
            t.start()
        threading.Thread(target=self._watch, name="ldedit-wait", daemon=True).start()
        return self

    def poll_events(self) -> list[dict[str, Any]]:
        """Every event queued since the last call, oldest first; never blocks (call it from a Qt timer)."""
        out = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out

    def cancel(self, grace_s: float | None = None) -> None:
        """Ask the whole process tree to stop; returns at once (use :meth:`wait` to block).

        POSIX: SIGTERM to the process group, so ldedit stops cleanly (nothing in OUT), then SIGKILL to the
        group if it is still there after ``grace_s``. Windows: ``taskkill /T /F`` of the tree (a child
        without a console cannot be asked politely).
        """
        first = not self._cancelled.is_set()
        self._cancelled.set()
        if self._proc is None or self._done.is_set():
            return
        self._signal(signal.SIGTERM)
        if first and not IS_WINDOWS:
            grace = self.grace_s if grace_s is None else float(grace_s)
            timer = threading.Timer(grace, self._force_kill)
            timer.daemon = True
            timer.start()

    def wait(self, timeout: float | None = None) -> int:
        """Block until the child ended and its output was read; returns the exit status.

        Raises:
            RuntimeError: not started.
            TimeoutError: still running after ``timeout`` seconds (it keeps running).
        """
        if self._proc is None:
            raise RuntimeError("not started: call start() first")
        if not self._done.wait(timeout):
            raise TimeoutError(f"ldedit still running after {timeout:g} s")
        assert self._returncode is not None
        return self._returncode

    # --- threads --------------------------------------------------------------------------------------------

    def _force_kill(self) -> None:
        self._signal(getattr(signal, "SIGKILL", signal.SIGTERM))

    def _signal(self, sig: int) -> None:
        """``sig`` to the group (Windows: kill the tree); never once reaped, as its pid may be reused."""
        with self._kill_lock:
            if self._proc is None or self._reaped:
                return
            if IS_WINDOWS:
                _taskkill(self._proc.pid)
            else:
                _killpg(self._proc.pid, sig)

    def _read_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            event = parse_line(line)
            if event is not None:
                self.events.put(event)

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for line in self._proc.stderr:
            line = line.rstrip("\r\n")
            if line:
                with self._lock:
                    self._stderr.append(line)

    def _watch(self) -> None:
        """Wait for the child; sweep what is left of its group; then publish the outcome, last of all."""
        proc = self._proc
        assert proc is not None
        if hasattr(os, "waitid"):
            try:  # wait without reaping: while the zombie holds the pid, the group id cannot be reused
                os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
                self._signal(signal.SIGKILL)  # orphans it left in its group (ldedit itself starts none)
            except ChildProcessError:
                pass
        else:  # Windows: nothing to sweep (taskkill /T covers the tree); wait outside the lock
            proc.wait()
        with self._kill_lock:
            self._reaped = True
            code = proc.wait()  # it has exited: this only reaps it
        if not IS_WINDOWS:
            _wait_group_gone(proc.pid, GROUP_GONE_S)
        for t in self._threads:
            t.join()
        self._returncode = code
        self.events.put(
            {
                "type": "exit",
                "returncode": code,
                "cancelled": self.cancelled,
                "error": self.error_message or None,
            }
        )
        self._done.set()  # after the exit event: once running is False, every event is in the queue


def parse_line(line: str) -> dict[str, Any] | None:
    """One stdout line as an event (see the module docstring); None for a blank line."""
    text = line.strip()
    if not text:
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        return {"type": "log", "message": text}
    kind = "result" if obj.get("stage") == "result" else "progress" if "stage" in obj else "log"
    return {**obj, "type": kind}


def run_blocking(
    cmd: Sequence[str],
    on_event: Callable[[dict[str, Any]], None] | None = None,
    timeout: float | None = None,
    **kwargs: Any,
) -> tuple[int, list[dict[str, Any]], str]:
    """Run ``cmd`` to the end (scripts, the Slicer self-test); ``on_event`` sees each event as it comes.

    Ctrl+C or an exception in ``on_event`` stops the child (cleanly, as :meth:`EditProcess.cancel`) before it
    propagates. ``kwargs`` go to :class:`EditProcess`.

    Returns:
        ``(returncode, events, error_message)``; ``error_message`` is empty on success.

    Raises:
        TimeoutError: not finished after ``timeout`` seconds; the child was stopped first.
    """
    process = EditProcess(cmd, **kwargs).start()
    events: list[dict[str, Any]] = []
    deadline = None if timeout is None else time.monotonic() + timeout
    finished = False
    try:
        while not finished:
            try:
                event = process.events.get(timeout=0.1)
            except queue.Empty:
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"ldedit not finished within {timeout:g} s; it was stopped") from None
                continue
            events.append(event)
            finished = event["type"] == "exit"
            if on_event is not None:
                on_event(event)
    finally:
        if not finished:
            process.cancel()
            process.wait()
    return process.wait(), events, process.error_message


# --- helpers ------------------------------------------------------------------------------------------------


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(pgid, sig)


def _wait_group_gone(pgid: int, limit_s: float) -> None:
    """Wait until SIGKILLed members of the group have died (signal 0 only: harmless if the id was reused)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.01)


def _taskkill(pid: int) -> None:
    subprocess.run(
        ["taskkill", "/T", "/F", "/PID", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
        creationflags=0x08000000,  # CREATE_NO_WINDOW
    )


def _error_message(code: int, lines: list[str]) -> str:
    """ldedit's ``ldedit CMD: [error: ]message`` line without its prefix, else a generic message."""
    for line in reversed(lines):
        if line.startswith("ldedit ") and ": " in line:
            head, _, rest = line.partition(": ")
            if " " in head[len("ldedit ") :]:  # "ldedit edit extra" is not the CLI's prefix
                continue
            rest = rest[len("error: ") :] if rest.startswith("error: ") else rest
            return rest[:1].upper() + rest[1:]
    if code < 0:
        name = _signal_name(-code)
        what = f"ldedit was killed by {name}"
        if name == "SIGKILL":
            what += " (out of memory? try fewer follow-ups or the CPU)"
    else:
        what = f"ldedit failed with exit status {code}"
    tail = [line for line in lines if line.strip()][-5:]
    return what + (":\n" + "\n".join(tail) if tail else "")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
