"""Driving the dev cluster over real HTTP: a test-only RecordIO reader and a tiny v1 scheduler."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

Event = dict[str, Any]
JSON = {"Content-Type": "application/json"}


class RecordIOReader:
    """Test-only decoder: feed arbitrary chunks, get whole records back."""

    def __init__(self) -> None:
        self.buffer = b""
        self.split_records = 0

    def feed(self, chunk: bytes) -> list[Event]:
        self.buffer += chunk
        records: list[Event] = []
        while True:
            newline = self.buffer.find(b"\n")
            if newline < 0:
                break
            length = int(self.buffer[:newline])
            if len(self.buffer) < newline + 1 + length:
                break
            payload = self.buffer[newline + 1 : newline + 1 + length]
            self.buffer = self.buffer[newline + 1 + length :]
            records.append(json.loads(payload))
        if self.buffer:
            self.split_records += 1
        return records


class EventStream:
    """A SUBSCRIBE response read by a background thread; events are kept in arrival order."""

    def __init__(self, url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.events: list[Event] = []
        self.status_code = 0
        self.headers: httpx.Headers = httpx.Headers()
        self.body = b""
        self.reader = RecordIOReader()
        self.ended = False
        self._consumed: set[int] = set()
        self._cond = threading.Condition()
        self._started = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(10.0, read=None))
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(
            target=self._run, args=(url, body, {**JSON, **(headers or {})}), daemon=True
        )
        self._thread.start()
        assert self._started.wait(10), "SUBSCRIBE got no response"

    def _run(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        try:
            with self._client.stream("POST", f"{url}/api/v1/scheduler", json=body, headers=headers) as resp:
                self._response = resp
                self.status_code = resp.status_code
                self.headers = resp.headers
                self._started.set()
                if resp.status_code != 200:
                    self.body = resp.read()
                    return
                for chunk in resp.iter_raw():
                    records = self.reader.feed(chunk)
                    with self._cond:
                        self.events.extend(records)
                        self._cond.notify_all()
        except (httpx.HTTPError, OSError, ValueError):
            pass
        finally:
            self._started.set()
            with self._cond:
                self.ended = True
                self._cond.notify_all()

    @property
    def stream_id(self) -> str:
        return self.headers["mesos-stream-id"]

    def next(self, type_: str, pred: Callable[[Event], bool] = lambda e: True, timeout: float = 15) -> Event:
        """The first not-yet-consumed event of that type matching `pred`, waiting for it if needed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for index, event in enumerate(self.events):
                    if index not in self._consumed and event["type"] == type_ and pred(event):
                        self._consumed.add(index)
                        return event
                remaining = deadline - time.monotonic()
                if self.ended or remaining <= 0:
                    seen = [e["type"] for e in self.events]
                    raise AssertionError(f"no matching {type_} event (ended={self.ended}); got {seen}")
                self._cond.wait(remaining)

    def first(self, timeout: float = 15) -> Event:
        with self._cond:
            assert self._cond.wait_for(lambda: self.events or self.ended, timeout), "no event"
            assert self.events, "stream ended without any event"
            return self.events[0]

    def update(self, task_id: str, state: str | None = None, timeout: float = 15) -> dict[str, Any]:
        def match(event: Event) -> bool:
            status = event["update"]["status"]
            return bool(status["task_id"]["value"] == task_id and (state is None or status["state"] == state))

        status: dict[str, Any] = self.next("UPDATE", match, timeout)["update"]["status"]
        return status

    def updates(self, task_id: str) -> list[dict[str, Any]]:
        with self._cond:
            return [
                e["update"]["status"]
                for e in self.events
                if e["type"] == "UPDATE" and e["update"]["status"]["task_id"]["value"] == task_id
            ]

    def wait_ended(self, timeout: float = 15) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.ended, timeout), "stream did not end"

    def close(self) -> None:
        """Drop the connection like a crashed scheduler would (shutdown wakes the blocked reader)."""
        if self._response is not None and not self.ended:
            stream = self._response.extensions.get("network_stream")
            sock = None if stream is None else stream.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._client.close()
        self._thread.join(10)


def wait_until(predicate: Callable[[], Any], timeout: float = 15, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def task_info(
    task_id: str, agent_id: str, command: str = "exit 0", cpus: float = 0.5, mem: float = 64, **extra: Any
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": {"value": agent_id},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
        ],
        "command": {"shell": True, "value": command},
    }
    info.update(extra)
    return info


class Scheduler:
    """Just enough of a v1 scheduler to exercise the dev cluster."""

    def __init__(self, url: str, *, capabilities: tuple[str, ...] = (), **info: Any) -> None:
        self.url = url
        self.info: dict[str, Any] = {"user": "test", "name": "test-framework", **info}
        if capabilities:
            self.info["capabilities"] = [{"type": c} for c in capabilities]
        self.framework_id: str | None = None
        self.stream: EventStream | None = None
        self.http = httpx.Client(base_url=url, timeout=10)
        self.streams: list[EventStream] = []

    def subscribe(self, **subscribe_extra: Any) -> EventStream:
        info = dict(self.info)
        body: dict[str, Any] = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info, **subscribe_extra}}
        if self.framework_id is not None:
            info["id"] = {"value": self.framework_id}
            body["framework_id"] = {"value": self.framework_id}
        stream = EventStream(self.url, body)
        self.streams.append(stream)
        assert stream.status_code == 200, stream.body
        first = stream.first()
        if first["type"] == "SUBSCRIBED":
            stream.next("SUBSCRIBED")
            self.framework_id = first["subscribed"]["framework_id"]["value"]
            self.stream = stream
        return stream

    @property
    def events(self) -> EventStream:
        assert self.stream is not None
        return self.stream

    def call(self, call_type: str, body: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
        payload: dict[str, Any] = {"type": call_type, "framework_id": {"value": self.framework_id}}
        if body is not None:
            payload[call_type.lower()] = body
        stream_headers = {"Mesos-Stream-Id": self.events.stream_id, **JSON, **headers}
        return self.http.post("/api/v1/scheduler", json=payload, headers=stream_headers)

    def offers(self, count: int = 1, timeout: float = 15) -> list[dict[str, Any]]:
        """Collect offers from OFFERS events until at least `count` arrived."""
        collected: list[dict[str, Any]] = []
        while len(collected) < count:
            collected.extend(self.events.next("OFFERS", timeout=timeout)["offers"]["offers"])
        return collected

    def launch_one(self, task_id: str, command: str = "exit 0", **task: Any) -> tuple[dict[str, Any], str]:
        """Take the next offer and launch one task into it; returns (the offer, its agent id)."""
        offer = self.offers(1)[0]
        agent_id: str = offer["agent_id"]["value"]
        self.accept([offer["id"]["value"]], [task_info(task_id, agent_id, command, **task)])
        return offer, agent_id

    def accept(self, offer_ids: list[str], tasks: list[dict[str, Any]], refuse: float | None = None) -> None:
        body: dict[str, Any] = {
            "offer_ids": [{"value": o} for o in offer_ids],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}],
        }
        if refuse is not None:
            body["filters"] = {"refuse_seconds": refuse}
        response = self.call("ACCEPT", body)
        assert response.status_code == 202, response.text

    def decline(self, offer_ids: list[str], refuse: float | None = None) -> None:
        body: dict[str, Any] = {"offer_ids": [{"value": o} for o in offer_ids]}
        if refuse is not None:
            body["filters"] = {"refuse_seconds": refuse}
        response = self.call("DECLINE", body)
        assert response.status_code == 202, response.text

    def ack(self, status: dict[str, Any]) -> httpx.Response:
        body = {"agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]}
        response = self.call("ACKNOWLEDGE", body)
        assert response.status_code == 202, response.text
        return response

    def close(self) -> None:
        for stream in self.streams:
            stream.close()
        self.http.close()
