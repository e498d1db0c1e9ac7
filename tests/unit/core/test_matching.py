from __future__ import annotations

from juice.core.matching import OfferView, PendingTask, match


def offer(i: int, cpus: float = 2.0, mem: float = 4096.0) -> OfferView:
    return OfferView(id=f"O{i}", agent_id=f"S{i}", hostname=f"h{i}", cpus=cpus, mem=mem, disk=1000.0)


def task(key: str, cpus: float = 1.0, mem: float = 768.0, avoid: str | None = None) -> PendingTask:
    return PendingTask("job", key, cpus, mem, 0.0, avoid_agent=avoid)


def test_packs_many_tasks_into_one_offer() -> None:
    r = match([offer(1, cpus=4)], [task(f"v{i}") for i in range(4)])
    assert [t.key for t in r.launches["O1"]] == ["v0", "v1", "v2", "v3"]
    assert r.unused == [] and r.unplaced == []


def test_spreads_round_robin_and_respects_every_resource() -> None:
    r = match([offer(1), offer(2)], [task(f"v{i}") for i in range(5)])
    assert [t.key for t in r.launches["O1"]] == ["v0", "v2"]
    assert [t.key for t in r.launches["O2"]] == ["v1", "v3"]
    assert [t.key for t in r.unplaced] == ["v4"]
    mem_bound = match([offer(1, cpus=8, mem=1000)], [task("a"), task("b")])
    assert [t.key for t in mem_bound.launches["O1"]] == ["a"]


def test_unused_offers_are_listed_for_decline() -> None:
    r = match([offer(1), offer(2)], [task("v0")])
    assert r.unused == ["O2"]
    assert match([offer(1)], []).unused == ["O1"]


def test_retry_avoids_the_previous_agent_when_it_can() -> None:
    r = match([offer(1), offer(2)], [task("v0", avoid="S1")])
    assert "O2" in r.launches and "O1" not in r.launches
    only_same = match([offer(1)], [task("v0", avoid="S1")])
    assert [t.key for t in only_same.launches["O1"]] == ["v0"]


def test_small_tasks_fill_gaps_left_by_big_ones() -> None:
    r = match([offer(1, cpus=1.5)], [task("v0", cpus=1.0), task("v1", cpus=1.0), task("a0", cpus=0.5)])
    assert [t.key for t in r.launches["O1"]] == ["v0", "a0"]
    assert [t.key for t in r.unplaced] == ["v1"]
