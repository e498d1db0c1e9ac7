"""The main job, end to end on the local stack, as an upload service and a client would see it."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from juice.core.states import JOB_TERMINAL, JobState
from juice.errors import JuiceError
from juice.local.stack import LocalStack, StackConfig
from juice.media.hlscheck import download_prefix
from juice.media.samples import make_clip
from juice.store import keys

DEMO_LADDER = [{"height": 720, "video_bitrate": "2500k"}, {"height": 360, "video_bitrate": "800k"}]


def run_demo(*, clip: Path | None, seconds: float, out: Path, timeout: float = 900.0) -> Path:
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="juice-demo-") as tmp:
        with console.status("starting Redis, Ceph RGW, the dev cluster and the framework..."):
            stack = LocalStack(StackConfig(agents=2, cpus=2.0, mem=4096.0)).start()
        try:
            for key, value in stack.env().items():
                console.print(f"[dim]{key}={value}[/dim]")
            if clip is None:
                clip = Path(tmp) / "sample.mp4"
                with console.status(f"making a {seconds:g} s sample clip (moving picture and tone)..."):
                    make_clip(clip, seconds=seconds, rate="25", width=1280, height=720)
            job_id = f"demo-{int(time.time())}"
            store = stack.object_store()
            store.put_file("uploads", f"{job_id}/{clip.name}", str(clip), "video/mp4")
            job = {
                "id": job_id,
                "source": f"s3://uploads/{job_id}/{clip.name}",
                "output": f"s3://streams/{job_id}/",
                "renditions": DEMO_LADDER,
            }
            redis.Redis.from_url(stack.redis.url).xadd(keys.INTAKE_STREAM, {"job": json.dumps(job)})
            console.print(f"submitted: XADD {keys.INTAKE_STREAM} * job '{json.dumps(job)}'")
            final = _follow(console, f"{stack.api_url}/jobs/{job_id}", timeout)
            if final["state"] != JobState.SUCCEEDED:
                raise JuiceError(f"job {job_id} ended {final['state']}: {final.get('reason')}")
            local = download_prefix(store, "streams", f"{job_id}/", out / job_id)
            return (local / "master.m3u8").resolve()
        finally:
            with console.status("stopping the local stack..."):
                stack.stop()


def _follow(console: Console, url: str, timeout: float) -> dict[str, Any]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    deadline = time.monotonic() + timeout
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("SUBMITTED", total=1.0, detail="")
        while time.monotonic() < deadline:
            response = httpx.get(url, timeout=10.0)
            view: dict[str, Any] = response.json() if response.status_code == 200 else {"state": "SUBMITTED"}
            segments: dict[str, int] = view.get("segments", {})
            detail = " ".join(f"{k.lower()}={v}" for k, v in segments.items() if k != "total" and v)
            state = str(view["state"])
            progress.update(bar, description=state, completed=float(view.get("progress", 0.0)), detail=detail)
            if state in {s.value for s in JOB_TERMINAL}:
                return view
            time.sleep(0.5)
    raise JuiceError(f"no final state within {timeout:.0f} s")
