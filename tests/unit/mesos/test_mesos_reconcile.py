from __future__ import annotations

import pytest

from juice.mesos.reconcile import Reconciliation


def test_explicit_rounds_with_backoff_then_implicit_then_done() -> None:
    r = Reconciliation(100.0, {"t1": "a1", "t2": None}, initial_delay=2.0, max_delay=5.0)
    assert r.next_batch(99.0) is None
    assert r.next_batch(100.0) == [("t1", "a1"), ("t2", None)]
    assert r.next_batch(100.5) is None
    assert r.next_due() == 102.0
    r.on_update("t1", 101.0)
    assert r.next_batch(102.0) == [("t2", None)]
    assert r.next_due() == 106.0  # 2 * 2
    assert r.next_batch(105.9) is None
    assert r.next_batch(106.0) == [("t2", None)]
    assert r.next_due() == 111.0  # capped at 5
    r.on_update("t2", 107.0)
    assert r.next_batch(111.0) == []
    assert r.done
    assert r.next_batch(200.0) is None
    assert r.next_due() is None
    assert r.rounds == 3


def test_updates_from_before_start_do_not_count() -> None:
    r = Reconciliation(10.0, {"t1": "a1"})
    r.on_update("t1", 9.0)
    assert r.remaining == {"t1": "a1"}
    assert r.next_batch(10.0) == [("t1", "a1")]


def test_batches_of_at_most_fifty_within_a_round() -> None:
    tasks: dict[str, str | None] = {f"t{i:03d}": f"a{i % 3}" for i in range(120)}
    r = Reconciliation(0.0, tasks, initial_delay=1.0)
    batches = [r.next_batch(0.0), r.next_batch(0.0), r.next_batch(0.0)]
    assert [len(b or []) for b in batches] == [50, 50, 20]
    sent = [t for b in batches for t, _ in (b or [])]
    assert sorted(sent) == sorted(tasks)
    assert r.next_batch(0.0) is None
    assert r.rounds == 1


def test_answered_tasks_are_skipped_in_later_batches_of_the_same_round() -> None:
    tasks: dict[str, str | None] = {f"t{i:03d}": None for i in range(60)}
    r = Reconciliation(0.0, tasks)
    first = r.next_batch(0.0) or []
    assert len(first) == 50
    for i in range(50, 58):
        r.on_update(f"t{i:03d}", 0.1)
    assert r.next_batch(0.1) == [("t058", None), ("t059", None)]


def test_nothing_to_reconcile_goes_straight_to_implicit() -> None:
    r = Reconciliation(5.0, {})
    assert r.next_batch(5.0) == []
    assert r.done


def test_max_rounds_stops_explicit_rounds() -> None:
    r = Reconciliation(0.0, {"t": None}, initial_delay=1.0, max_rounds=2)
    assert r.next_batch(0.0) == [("t", None)]
    assert r.next_batch(1.0) == [("t", None)]
    assert r.next_batch(3.0) == []
    assert r.done and r.remaining == {"t": None}


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        Reconciliation(0.0, {}, batch_size=0)
    with pytest.raises(ValueError, match="delay"):
        Reconciliation(0.0, {}, initial_delay=5, max_delay=1)
