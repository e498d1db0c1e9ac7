"""What every local service launcher shares: its work dir, its processes, a clean stop, `with` support."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from juice.errors import ServiceError
from juice.local.procs import ManagedProcess, forget_at_exit


class LocalService:
    """A service made of processes started in order and stopped in reverse, each by its PID.

    A work dir given by the caller is kept; otherwise a temp dir is made and removed on stop.
    """

    DIR_PREFIX: ClassVar[str] = "juice-service-"
    TERM_TIMEOUT: ClassVar[float] = 10.0

    def __init__(self, work_dir: Path | None) -> None:
        self._requested_dir = work_dir
        self.work_dir: Path | None = None
        self._owns_dir = False
        self._procs: dict[str, ManagedProcess] = {}
        self.start_seconds = 0.0
        self.stop_seconds = 0.0

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop every process (last started first), then remove the temp dir. Safe to call twice."""
        started = time.monotonic()
        for name in reversed(list(self._procs)):
            self._procs.pop(name).stop(term_timeout=self.TERM_TIMEOUT)
        if self.work_dir is not None and self._owns_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            self.work_dir = None
        forget_at_exit(self)
        self.stop_seconds = time.monotonic() - started

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _prepare_dir(self) -> Path:
        if self._requested_dir is not None:
            self._requested_dir.mkdir(parents=True, exist_ok=True)
            self.work_dir = self._requested_dir
            self._owns_dir = False
        else:
            self.work_dir = Path(tempfile.mkdtemp(prefix=self.DIR_PREFIX))
            self._owns_dir = True
        return self.work_dir


class SingleProcessService(LocalService):
    """A service that is one process, named NAME."""

    NAME: ClassVar[str]

    @property
    def _proc(self) -> ManagedProcess | None:
        return self._procs.get(self.NAME)

    @property
    def pid(self) -> int:
        proc = self._proc
        if proc is None:
            raise ServiceError(f"{self.NAME} is not running")
        return proc.pid
