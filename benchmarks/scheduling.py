"""Scheduling hot path, measured side by side in one run (prints figures, asserts nothing).

1. Offer matching (the pure core): N pending tasks into M offers, per round.
2. Launch intents on a real Redis: the LAUNCHING compare-and-set (one Lua script per task) and the
   pending-queue read an offer round makes.
3. The Mesos protocol at scale: the dev cluster in simulated-task mode with hundreds of agents, driven by
   Juice's own v1 client: SUBSCRIBE -> offers for every agent -> one ACCEPT per offer -> every task
   TASK_RUNNING (each update acknowledged, as the scheduler does).

    .venv/bin/python benchmarks/scheduling.py [--agents 300] [--tasks-per-agent 4] [--pending 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import redis.asyncio as aioredis

from juice.core.jobspec import JobSpec
from juice.core.matching import OfferView, PendingTask, match
from juice.core.mediainfo import MediaInfo, VideoStreamInfo
from juice.core.plan import PlanLimits, plan_job
from juice.core.states import JobState, SegmentState
from juice.devcluster.server import DevClusterConfig, DevClusterThread
from juice.local.redis_server import RedisServer
from juice.mesos.builders import FrameworkSettings
from juice.mesos.client import SchedulerClient
from juice.mesos.messages import Offers, Subscribed, Update
from juice.scheduler.planner import TaskResources, segment_records
from juice.store.redis_store import RedisStore


def _source(frames: int) -> MediaInfo:
    v = VideoStreamInfo(
        index=0,
        codec="h264",
        width=640,
        height=360,
        display_width=640,
        display_height=360,
        rotation=0,
        pix_fmt="yuv420p",
        frame_rate="25/1",
        avg_frame_rate="25/1",
        frame_count=frames,
        duration=frames / 25,
        start_time=0.0,
        variable_frame_rate=False,
    )
    return MediaInfo(format_name="mp4", duration=frames / 25, size_bytes=None, video=v, audio=[])


def bench_matching(offers: int, pending: int, rounds: int = 20) -> dict[str, float]:
    views = [OfferView(f"O{i}", f"S{i}", f"h{i}", 4.0, 8192.0, 20000.0) for i in range(offers)]
    tasks = [PendingTask("job", f"v{i:05d}", 1.0, 768.0) for i in range(pending)]
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = match(views, tasks)
        times.append(time.perf_counter() - started)
    placed = sum(len(t) for t in result.launches.values())
    median = statistics.median(times)
    return {
        "offers": offers,
        "pending": pending,
        "placed": placed,
        "ms_per_round": round(median * 1000, 2),
        "tasks_per_s": round(placed / median),
    }


async def bench_store(pending: int) -> dict[str, float]:
    with RedisServer() as server:
        client = aioredis.Redis.from_url(server.url)
        store = RedisStore(client)
        job = JobSpec(
            id="bench",
            source="s3://uploads/b.mp4",
            output="s3://streams/bench/",
            segment_seconds=1,
            chunk_seconds=1,
        )
        source = _source(pending * 25)
        plan = plan_job(job, source, PlanLimits(parallelism=pending))
        await store.create_job("bench", job, now=1.0)
        await store.transition_job("bench", JobState.PLANNING, now=1.0)
        started = time.perf_counter()
        await store.start_running(
            "bench",
            plan,
            source,
            segment_records(plan, TaskResources(1, 768, 0.5, 256), 1.0),
            now=1.0,
        )
        plan_s = time.perf_counter() - started
        started = time.perf_counter()
        ready = await store.ready_pending(2.0, 1000)
        scan_s = time.perf_counter() - started
        started = time.perf_counter()
        for i, chunk in enumerate(plan.chunks):
            tid = f"bench.{chunk.key}.1"
            await store.transition_segment(
                "bench",
                chunk.key,
                SegmentState.LAUNCHING,
                now=2.0,
                new_task_id=tid,
                patch={"task_id": tid, "agent_id": f"S{i % 300}", "attempt": 1},
                require_job=JobState.RUNNING,
            )
        launch_s = time.perf_counter() - started
        await client.aclose()
    n = len(plan.chunks)
    return {
        "segments": n,
        "store_plan_ms": round(plan_s * 1000, 1),
        "read_1000_pending_ms": round(scan_s * 1000, 1),
        "pending_read": len(ready),
        "launch_intents_per_s": round(n / launch_s),
    }


async def bench_protocol(agents: int, per_agent: int) -> dict[str, Any]:
    config = DevClusterConfig(
        agents=agents,
        cpus=float(per_agent),
        mem=per_agent * 1024.0,
        simulate_seconds=600,
        heartbeat_interval=5.0,
        split_records=True,
    )
    with DevClusterThread(config) as cluster:
        client = SchedulerClient(cluster.url, FrameworkSettings(user="root", name="bench", roles=("bench",)))
        t0 = time.perf_counter()
        subscribed = offered = launched_at = 0.0
        running, seen_agents, launched = 0, set(), 0
        async for event in client.events():
            if isinstance(event, Subscribed):
                subscribed = time.perf_counter() - t0
            elif isinstance(event, Offers):
                tasks_by_offer = []
                for offer in event.offers:
                    seen_agents.add(offer.agent_id)
                    infos = [_task(offer.agent_id, f"t-{offer.agent_id}-{k}") for k in range(per_agent)]
                    tasks_by_offer.append((offer.id, infos))
                if len(seen_agents) == agents and not offered:
                    offered = time.perf_counter() - t0
                launch_start = time.perf_counter()
                await asyncio.gather(
                    *(client.accept([oid], infos, refuse_seconds=600) for oid, infos in tasks_by_offer)
                )
                launched += sum(len(i) for _, i in tasks_by_offer)
                launched_at += time.perf_counter() - launch_start
            elif isinstance(event, Update):
                if event.status.uuid and event.status.agent_id:
                    await client.acknowledge(event.status.agent_id, event.status.task_id, event.status.uuid)
                if str(event.status.state) == "TASK_RUNNING":
                    running += 1
                    if running == agents * per_agent:
                        break
        total = time.perf_counter() - t0
        await client.close()
    return {
        "agents": agents,
        "tasks": agents * per_agent,
        "subscribed_s": round(subscribed, 3),
        "all_agents_offered_s": round(offered, 3),
        "accept_calls_s": round(launched_at, 3),
        "all_running_s": round(total, 3),
        "tasks_running_per_s": round(agents * per_agent / total),
    }


def _task(agent_id: str, task_id: str) -> dict[str, Any]:
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": {"value": agent_id},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 768.0}},
        ],
        "command": {"shell": True, "value": "true"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--tasks-per-agent", type=int, default=4)
    parser.add_argument("--pending", type=int, default=2000)
    args = parser.parse_args()
    figures = {
        "matching": bench_matching(args.agents, args.pending),
        "store": asyncio.run(bench_store(args.pending)),
        "protocol": asyncio.run(bench_protocol(args.agents, args.tasks_per_agent)),
    }
    for name, values in figures.items():
        print(f"{name:<9} " + "  ".join(f"{k}={v}" for k, v in values.items()))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
