"""The agents' executor side: run each task as a local process group and report how it ends.

Reports go through a callback `report(key, state, source, reason, message)`; the master turns them into
status updates. In simulated mode tasks "run" for a fixed time without any process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

from juice.devcluster.launch import LaunchPlan

logger = logging.getLogger(__name__)

Key = tuple[str, str]  # (framework_id, task_id)
Reporter = Callable[[Key, str, str, str | None, str | None], None]


@dataclass
class _Run:
    key: Key
    plan: LaunchPlan | None
    process: asyncio.subprocess.Process | None = None
    started: bool = False
    running: bool = False
    kill_requested: bool = False
    completion_exceeded: bool = False
    silent: bool = False
    kill_deadline: float | None = None
    timers: list[asyncio.Handle] = field(default_factory=list)
    waiter: asyncio.Task[None] | None = None


def exit_message(returncode: int) -> str:
    if returncode >= 0:
        return f"Command exited with status {returncode}"
    return f"Command terminated with signal {signal.strsignal(-returncode) or -returncode}"


class AgentRuntime:
    def __init__(self, report: Reporter, *, simulate_seconds: float | None = None) -> None:
        self._report = report
        self._simulate_seconds = simulate_seconds
        self._runs: dict[Key, _Run] = {}
        self._discarded: list[_Run] = []

    def pids(self) -> list[int]:
        runs = [*self._runs.values(), *self._discarded]
        return [run.process.pid for run in runs if run.process is not None]

    def launch(self, key: Key, plan: LaunchPlan | None, *, max_completion: float | None) -> None:
        run = _Run(key, plan)
        self._runs[key] = run
        loop = asyncio.get_running_loop()
        if max_completion is not None:
            run.timers.append(loop.call_later(max_completion, self._completion_exceeded, run))
        if plan is None:
            self._report(key, "TASK_STARTING", "SOURCE_EXECUTOR", None, None)
            run.started = run.running = True
            self._report(key, "TASK_RUNNING", "SOURCE_EXECUTOR", None, None)
            seconds = self._simulate_seconds or 0.0
            run.timers.append(loop.call_later(seconds, self._finish, run, 0))
            return
        run.waiter = loop.create_task(self._run_process(run, plan))

    async def _run_process(self, run: _Run, plan: LaunchPlan) -> None:
        self._report(run.key, "TASK_STARTING", "SOURCE_EXECUTOR", None, None)
        try:
            plan.sandbox.mkdir(parents=True, exist_ok=True)
            with (plan.sandbox / "stdout").open("wb") as out, (plan.sandbox / "stderr").open("wb") as err:
                run.process = await asyncio.create_subprocess_exec(
                    *plan.argv,
                    executable=plan.executable,
                    cwd=plan.sandbox,
                    env=plan.env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                )
        except OSError as exc:
            if self._runs.get(run.key) is run:
                del self._runs[run.key]
            if run in self._discarded:
                self._discarded.remove(run)
            self._cancel_timers(run)
            message = f"Failed to launch command {list(plan.argv)!r}: {exc}"
            if not run.silent:
                self._report(
                    run.key, "TASK_FAILED", "SOURCE_EXECUTOR", "REASON_COMMAND_EXECUTOR_FAILED", message
                )
            return
        run.started = True
        logger.info("task process started", extra={"task_id": run.key[1], "pid": run.process.pid})
        if run.kill_requested:
            self._signal(run, signal.SIGKILL)
        elif not run.silent:
            run.running = True
            self._report(run.key, "TASK_RUNNING", "SOURCE_EXECUTOR", None, None)
        returncode = await run.process.wait()
        self._finish(run, returncode)

    def _finish(self, run: _Run, returncode: int) -> None:
        self._cancel_timers(run)
        if self._runs.get(run.key) is run:
            del self._runs[run.key]
        if run in self._discarded:
            self._discarded.remove(run)
        if run.process is not None:
            self._signal(run, signal.SIGKILL)  # leftovers of the process group
        if run.silent:
            return
        message = exit_message(returncode)
        if run.completion_exceeded:
            self._report(
                run.key, "TASK_FAILED", "SOURCE_EXECUTOR", "REASON_MAX_COMPLETION_TIME_REACHED", message
            )
        elif run.kill_requested:
            reason = None if run.running else "REASON_TASK_KILLED_DURING_LAUNCH"
            self._report(run.key, "TASK_KILLED", "SOURCE_EXECUTOR", reason, message)
        elif returncode == 0:
            self._report(run.key, "TASK_FINISHED", "SOURCE_EXECUTOR", None, message)
        else:
            self._report(run.key, "TASK_FAILED", "SOURCE_EXECUTOR", None, message)

    def _cancel_timers(self, run: _Run) -> None:
        for timer in run.timers:
            timer.cancel()
        run.timers.clear()

    def _signal(self, run: _Run, signum: signal.Signals) -> None:
        if run.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(run.process.pid, signum)

    def _terminate(self, run: _Run, grace: float) -> None:
        """SIGTERM now, SIGKILL after `grace` (a later request may only shorten it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        if run.kill_deadline is not None and run.kill_deadline <= deadline:
            return
        first = run.kill_deadline is None
        run.kill_deadline = deadline
        if run.plan is None:
            run.timers.append(loop.call_soon(self._finish, run, -signal.SIGTERM))
            return
        if first and run.started:
            self._signal(run, signal.SIGTERM)
        run.timers.append(loop.call_later(grace, self._signal, run, signal.SIGKILL))

    def kill(self, key: Key, grace: float, *, killing_state: bool) -> bool:
        """KILL: TASK_KILLING (if the framework wants it), SIGTERM, SIGKILL after grace, TASK_KILLED."""
        run = self._runs.get(key)
        if run is None:
            return False
        if not run.kill_requested and killing_state:
            self._report(key, "TASK_KILLING", "SOURCE_EXECUTOR", None, None)
        run.kill_requested = True
        self._terminate(run, grace)
        return True

    def fail(self, key: Key) -> bool:
        """Fault injection: the task's process dies with SIGKILL (→ TASK_FAILED)."""
        run = self._runs.get(key)
        if run is None:
            return False
        if run.plan is None:
            self._cancel_timers(run)
            asyncio.get_running_loop().call_soon(self._finish, run, -signal.SIGKILL)
        else:
            self._signal(run, signal.SIGKILL)
        return True

    def _completion_exceeded(self, run: _Run) -> None:
        run.completion_exceeded = True
        self._terminate(run, 0.0)

    def discard(self, key: Key, grace: float) -> None:
        """Kill without reporting anything (teardown, agent removal)."""
        run = self._runs.pop(key, None)
        if run is None:
            return
        run.silent = True
        run.kill_requested = True
        self._discarded.append(run)
        self._terminate(run, grace)

    async def shutdown(self) -> None:
        """SIGKILL every task process group and wait for them."""
        runs = [*self._runs.values(), *self._discarded]
        self._runs.clear()
        self._discarded.clear()
        waiters: list[asyncio.Task[None]] = []
        for run in runs:
            run.silent = True
            self._cancel_timers(run)
            self._signal(run, signal.SIGKILL)
            if run.waiter is not None:
                waiters.append(run.waiter)
        if waiters:
            await asyncio.wait(waiters, timeout=10)
