"""Incremental decoder for the RecordIO framing of the Mesos scheduler event stream.

A record is its payload length as unsigned ASCII decimal, a `\\n`, then exactly that many payload bytes.
Chunk boundaries of the HTTP body have nothing to do with record boundaries: feed whatever arrives and
collect the complete records. Anything else on the wire is a protocol error (`MesosError`).
"""

from __future__ import annotations

from juice.errors import MesosError

__all__ = ["DEFAULT_MAX_RECORD_BYTES", "RecordIODecoder"]

# Large enough for an OFFERS event of a big cluster, small enough to stop a runaway length header.
DEFAULT_MAX_RECORD_BYTES = 256 * 1024 * 1024
# An unsigned 64-bit number has at most 20 decimal digits.
_MAX_LENGTH_DIGITS = 20


class RecordIODecoder:
    """Feed bytes, get complete records. Once it has raised, the decoder stays failed."""

    def __init__(self, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> None:
        if max_record_bytes <= 0:
            raise ValueError("max_record_bytes must be positive")
        self._max = max_record_bytes
        self._buffer = bytearray()
        self._pending: int | None = None  # payload length of the record being read
        self._failed: MesosError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as part of a record."""
        return len(self._buffer)

    @property
    def at_boundary(self) -> bool:
        """True when no partial record is buffered (a stream may end cleanly here)."""
        return self._pending is None and not self._buffer

    def feed(self, data: bytes) -> list[bytes]:
        """Add `data` and return every record it completes, in order."""
        if self._failed is not None:
            raise self._failed
        self._buffer += data
        records: list[bytes] = []
        try:
            while True:
                record = self._next_record()
                if record is None:
                    return records
                records.append(record)
        except MesosError as exc:
            self._failed = exc
            raise

    def _next_record(self) -> bytes | None:
        if self._pending is None:
            self._pending = self._read_length()
            if self._pending is None:
                return None
        if len(self._buffer) < self._pending:
            return None
        record = bytes(self._buffer[: self._pending])
        del self._buffer[: self._pending]
        self._pending = None
        return record

    def _read_length(self) -> int | None:
        newline = self._buffer.find(b"\n", 0, _MAX_LENGTH_DIGITS + 1)
        if newline < 0:
            head = bytes(self._buffer[: _MAX_LENGTH_DIGITS + 1])
            if not head.isdigit() and head:
                raise MesosError(f"RecordIO: invalid length header {head[:32]!r}")
            if len(head) > _MAX_LENGTH_DIGITS:
                raise MesosError(f"RecordIO: length header longer than {_MAX_LENGTH_DIGITS} digits")
            return None
        header = bytes(self._buffer[:newline])
        if not header.isdigit():
            raise MesosError(f"RecordIO: invalid length header {header[:32]!r}")
        length = int(header)
        if length == 0:
            raise MesosError("RecordIO: zero-length record")
        if length > self._max:
            raise MesosError(f"RecordIO: record of {length} bytes exceeds the {self._max}-byte limit")
        del self._buffer[: newline + 1]
        return length
