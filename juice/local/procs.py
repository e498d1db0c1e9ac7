"""Child processes for local services: free loopback ports, start, wait-for-ready, stop by PID.

Every service process runs in its own process group (its PID is the group id) with its output in a log
file. Stopping sends SIGTERM to that PID, waits, then SIGKILL; nothing is ever stopped by name. Processes
still running when the interpreter exits are stopped by an atexit hook.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from juice.errors import ServiceError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
TAIL_LINES = 40


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Distinct TCP ports on 127.0.0.1 that nothing listens on right now."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind((LOOPBACK, 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def port_is_free(port: int) -> bool:
    """True when a listener could bind 127.0.0.1:port (nobody listens on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def require_executable(name: str) -> str:
    """The absolute path of an executable, or ServiceError naming what is missing."""
    path = shutil.which(name)
    if path is None:
        raise ServiceError(f"executable {name!r} not found on PATH (run deploy/bootstrap.sh)")
    return path


def log_tail(path: Path, lines: int = TAIL_LINES) -> str:
    """The last lines of a log file, or a note when there is none."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no log at {path})"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else f"(empty log at {path})"


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in {"Z", "X"}


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def pid_listens_on(pid: int, port: int) -> bool:
    """True when the process holds a listening TCP socket on the port (Linux /proc)."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not wanted:
        return False
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        fds = list(fd_dir.iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(fd) in wanted:
                return True
        except OSError:
            continue
    return False


class ManagedProcess:
    """One started service process: its Popen, its log file, and a by-PID stop.

    Liveness is checked without reaping (waitid WNOWAIT), so the PID, which is also the process group id,
    stays reserved until stop() has cleared the group; only then is the child reaped.
    """

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log_path: Path) -> None:
        self.name = name
        self.popen = popen
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exit_status(self) -> int | None:
        """None while running; else the exit code, or minus the signal number that ended it."""
        if self.popen.returncode is not None:
            return self.popen.returncode
        try:
            info = os.waitid(os.P_PID, self.popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self.popen.poll()
        if info is None:
            return None
        killed = info.si_code in (os.CLD_KILLED, os.CLD_DUMPED)
        return -info.si_status if killed else info.si_status

    def alive(self) -> bool:
        return self.exit_status() is None

    def tail(self) -> str:
        return log_tail(self.log_path)

    def signal(self, signum: signal.Signals) -> None:
        """Send a signal to this PID only, if it still runs."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, signum)

    def wait_exit(self, timeout: float) -> bool:
        """Wait (without reaping) until the process has exited; True when it has."""
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self, term_timeout: float = 10.0) -> None:
        """SIGTERM, wait up to term_timeout, then SIGKILL; then clear its process group and reap it."""
        if self.alive():
            started = time.monotonic()
            self.signal(signal.SIGTERM)
            if not self.wait_exit(term_timeout):
                log.warning("service ignored SIGTERM, killing", extra={"service": self.name, "pid": self.pid})
                self.signal(signal.SIGKILL)
                self.wait_exit(10.0)
            log.info(
                "service stopped",
                extra={
                    "service": self.name,
                    "pid": self.pid,
                    "seconds": round(time.monotonic() - started, 2),
                },
            )
        if self.popen.returncode is None:
            # Not reaped yet, so the group id cannot have been reused: kill whatever the service spawned.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        _REGISTRY.discard(self)


def start_process(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> ManagedProcess:
    """Start argv in its own process group, stdout+stderr appended to log_path, stdin from /dev/null."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        try:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise ServiceError(f"{name}: cannot start {argv[0]}: {exc}") from exc
    proc = ManagedProcess(name, popen, log_path)
    _REGISTRY.add(proc)
    log.info("service process started", extra={"service": name, "pid": popen.pid})
    return proc


def run_command(name: str, argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None) -> str:
    """Run a short setup command to completion; its stdout, or ServiceError with its output."""
    try:
        done = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(f"{name}: {' '.join(argv)} did not finish in {timeout:.0f} s") from exc
    except OSError as exc:
        raise ServiceError(f"{name}: cannot run {argv[0]}: {exc}") from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode("utf-8", errors="replace").strip()
        raise ServiceError(f"{name}: {' '.join(argv)} exited {done.returncode}:\n{output[-4000:]}")
    return done.stdout.decode("utf-8", errors="replace")


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    deadline_seconds: float,
    watch: Sequence[ManagedProcess] = (),
    interval: float = 0.05,
) -> float:
    """Poll ready() until True; ServiceError (with the log tail) when a watched process dies or time runs out.

    Returns the seconds it took.
    """
    started = time.monotonic()
    deadline = started + deadline_seconds
    while True:
        for proc in watch:
            if not proc.alive():
                raise ServiceError(
                    f"{proc.name} (pid {proc.pid}) exited with {proc.exit_status()} while waiting for "
                    f"{what}; log tail:\n{proc.tail()}"
                )
        if ready():
            return time.monotonic() - started
        if time.monotonic() >= deadline:
            tails = "\n".join(f"--- {p.name} ({p.log_path}):\n{p.tail()}" for p in watch)
            raise ServiceError(f"timed out after {deadline_seconds:.0f} s waiting for {what}\n{tails}")
        time.sleep(interval)


class Stoppable(Protocol):
    def stop(self) -> None: ...


class _Registry:
    """Services and processes started and not yet stopped; stopped (newest first) at interpreter exit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Stoppable] = []

    def add(self, item: Stoppable) -> None:
        with self._lock:
            self._items.append(item)

    def discard(self, item: Stoppable) -> None:
        with self._lock:
            if item in self._items:
                self._items.remove(item)

    def stop_all(self) -> None:
        with self._lock:
            items = list(reversed(self._items))
        for item in items:
            try:
                item.stop()
            except Exception:
                log.exception("stop at exit failed", extra={"item": repr(item)})


_REGISTRY = _Registry()
atexit.register(_REGISTRY.stop_all)


def stop_at_exit(item: Stoppable) -> None:
    """Make sure item.stop() runs when the interpreter exits (normally or on an unhandled exception)."""
    _REGISTRY.add(item)


def forget_at_exit(item: Stoppable) -> None:
    """Undo stop_at_exit (after the item was stopped)."""
    _REGISTRY.discard(item)
