"""The `juice` command line. Only this module configures logging and builds Settings."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from juice import logs
from juice.config import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Distributed video transcoding on Mesos.")


@app.command()
def scheduler(
    until_idle: Annotated[
        bool, typer.Option(help="Exit once every job has ended and intake is drained.")
    ] = False,
    api: Annotated[bool, typer.Option(help="Serve the status API in the same process.")] = True,
) -> None:
    """Run the framework: Mesos scheduler, intake, planner, stitcher and the status API."""
    from juice.runtime import serve

    settings = Settings()
    logs.configure(settings.log_format, settings.log_level)
    asyncio.run(serve(settings, until_idle=until_idle, api=api))


@app.command()
def devcluster(
    port: Annotated[int, typer.Option(help="Master port on 127.0.0.1 (0 = any free port).")] = 5050,
    agents: Annotated[int, typer.Option(min=1)] = 2,
    cpus: Annotated[float, typer.Option(help="cpus per agent")] = 2.0,
    mem: Annotated[float, typer.Option(help="mem per agent, MB")] = 4096.0,
    disk: Annotated[float, typer.Option(help="disk per agent, MB")] = 20000.0,
    attributes: Annotated[list[str] | None, typer.Option(help="agent attribute k:v (repeatable)")] = None,
    work_dir: Annotated[Path | None, typer.Option(help="sandbox root (default: a temp dir)")] = None,
    zk: Annotated[
        str | None, typer.Option(help="register in ZooKeeper like a Mesos master: zk://h:p/mesos")
    ] = None,
    heartbeat_interval: Annotated[float, typer.Option()] = 15.0,
    allocation_interval: Annotated[float, typer.Option()] = 1.0,
    offer_timeout: Annotated[float | None, typer.Option(help="rescind offers held longer than this")] = None,
    simulate_seconds: Annotated[
        float | None, typer.Option(help="tasks 'run' this long with no process (scheduler benchmarks)")
    ] = None,
) -> None:
    """Serve a Mesos-API-compatible master with local agents until SIGINT/SIGTERM."""
    from juice.devcluster.server import DevClusterConfig, run_forever

    logs.configure("text", "INFO")
    attrs = dict(a.split(":", 1) for a in (attributes or []) if ":" in a)
    config = DevClusterConfig(
        port=port,
        agents=agents,
        cpus=cpus,
        mem=mem,
        disk=disk,
        attributes=attrs,
        work_dir=work_dir,
        zk=zk,
        heartbeat_interval=heartbeat_interval,
        allocation_interval=allocation_interval,
        offer_timeout=offer_timeout,
        simulate_seconds=simulate_seconds,
    )
    run_forever(config)


@app.command()
def local(
    env_file: Annotated[Path | None, typer.Option(help="Write JUICE_* settings here once ready.")] = None,
    agents: Annotated[int, typer.Option(min=1)] = 2,
    cpus: Annotated[float, typer.Option(help="cpus per agent")] = 2.0,
    mem: Annotated[float, typer.Option(help="mem per agent, MB")] = 4096.0,
) -> None:
    """Start Redis, Ceph RGW, the dev cluster, the framework and the API on loopback, until SIGINT/SIGTERM."""
    from juice.local.stack import LocalStack, StackConfig

    logs.configure("text", "INFO")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with LocalStack(StackConfig(agents=agents, cpus=cpus, mem=mem)) as stack:
        if env_file is not None:
            stack.write_env_file(env_file)
        for key, value in stack.env().items():
            typer.echo(f"{key}={value}")
        typer.echo("ready; Ctrl-C stops everything", err=True)
        stop.wait()
    typer.echo("stopped", err=True)


@app.command()
def demo(
    clip: Annotated[
        Path | None, typer.Option(help="Transcode this file instead of a generated clip.")
    ] = None,
    seconds: Annotated[float, typer.Option(help="Length of the generated clip.")] = 20.0,
    out: Annotated[Path, typer.Option(help="Where the local copy of the output goes.")] = Path(
        "juice-output"
    ),
) -> None:
    """The main job: start the local stack, submit a clip as an upload service would, fetch the HLS."""
    from juice.demo import run_demo

    logs.configure("text", "WARNING")
    master = run_demo(clip=clip, seconds=seconds, out=out)
    typer.echo(f"\nmaster playlist: {master}\nplay it with:    ffplay {master}")


@app.command()
def teardown(
    yes: Annotated[
        bool, typer.Option("--yes", help="Really kill every task and forget the framework.")
    ] = False,
) -> None:
    """Tear the framework down (every task killed, its id forgotten). Stop the scheduler first."""
    import time

    import redis.asyncio as aioredis

    from juice.mesos.client import SchedulerClient
    from juice.runtime import framework_settings
    from juice.scheduler.teardown import teardown as tear_down
    from juice.store.redis_store import RedisStore

    if not yes:
        typer.echo("refusing without --yes: this kills every task of the framework", err=True)
        raise typer.Exit(2)
    settings = Settings()
    logs.configure("text", "INFO")

    async def run() -> str:
        client = aioredis.Redis.from_url(settings.redis_url)
        try:
            store = RedisStore(client)
            mesos = SchedulerClient(
                settings.mesos_master, framework_settings(settings), framework_id=await store.framework_id()
            )
            return await tear_down(store, mesos, now=time.time())
        finally:
            await client.aclose()

    typer.echo(f"torn down: {asyncio.run(run())}")


@app.command()
def validate(
    master: Annotated[str, typer.Argument(help="master.m3u8: a local path or an http(s) URL")],
    source: Annotated[
        str | None, typer.Option(help="The original (path or URL), for frame alignment.")
    ] = None,
    joins_only: Annotated[bool, typer.Option(help="Compare content only around segment joins.")] = False,
) -> None:
    """Check a stitched HLS package; print JSON figures, exit non-zero on any failure."""
    from juice.media.validate import main_validate

    logs.configure("text", "WARNING")
    raise typer.Exit(main_validate(master, source, sample_joins_only=joins_only))


@app.command()
def submit(
    job: Annotated[str, typer.Argument(help="Job JSON, or @path to a file holding it.")],
) -> None:
    """Push a job into the intake stream (XADD juice:jobs * job <json>)."""
    import redis

    from juice.store import keys

    text = Path(job[1:]).read_text() if job.startswith("@") else job
    settings = Settings()
    entry = redis.Redis.from_url(settings.redis_url).xadd(keys.INTAKE_STREAM, {"job": text})
    typer.echo(entry.decode() if isinstance(entry, bytes) else str(entry))


@app.command()
def status(
    job_id: str, api_url: Annotated[str, typer.Option(envvar="JUICE_API_URL")] = "http://127.0.0.1:8080"
) -> None:
    """Print a job's status from the status API."""
    import httpx

    response = httpx.get(f"{api_url}/jobs/{job_id}", timeout=10.0)
    typer.echo(json.dumps(response.json(), indent=2))
    if response.status_code != 200:
        raise typer.Exit(1)


def main() -> None:
    app(prog_name="juice")


if __name__ == "__main__":
    main()
