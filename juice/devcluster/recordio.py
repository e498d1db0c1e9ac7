"""RecordIO framing for the event stream: `<decimal length>\\n<payload>`, no trailing newline."""

from __future__ import annotations

import json

from juice.devcluster.wire import JsonObject


def encode(payload: bytes) -> bytes:
    if not payload:
        raise ValueError("RecordIO records must not be empty")
    return str(len(payload)).encode("ascii") + b"\n" + payload


def encode_event(event: JsonObject) -> bytes:
    return encode(json.dumps(event, separators=(",", ":")).encode("utf-8"))


def split_point(record: bytes, counter: int) -> int:
    """A cut inside the record that moves around: in the length prefix for some, in the JSON for others."""
    return 1 + (counter * 7919) % (len(record) - 1)
