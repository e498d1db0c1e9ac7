from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from juice.errors import MesosError
from juice.mesos.recordio import RecordIODecoder


def encode(records: list[bytes]) -> bytes:
    return b"".join(str(len(r)).encode() + b"\n" + r for r in records)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


records_strategy = st.lists(st.binary(min_size=1, max_size=300), max_size=20)


@given(records=records_strategy, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_any_chunking_gives_the_same_records(records: list[bytes], cuts: list[int]) -> None:
    decoder = RecordIODecoder()
    out: list[bytes] = []
    for chunk in split(encode(records), cuts):
        out.extend(decoder.feed(chunk))
    assert out == records
    assert decoder.at_boundary


@given(records=st.lists(st.binary(min_size=1, max_size=50), min_size=1, max_size=5))
def test_byte_by_byte(records: list[bytes]) -> None:
    decoder = RecordIODecoder()
    data = encode(records)
    out: list[bytes] = []
    for i in range(len(data)):
        out.extend(decoder.feed(data[i : i + 1]))
    assert out == records


def test_partial_record_is_not_at_boundary() -> None:
    decoder = RecordIODecoder()
    assert decoder.feed(b"5\nabc") == []
    assert not decoder.at_boundary
    assert decoder.feed(b"de3\nxyz") == [b"abcde", b"xyz"]
    assert decoder.at_boundary


@pytest.mark.parametrize(
    "garbage",
    [
        b"0\n",
        b"\n",
        b"-5\nabcde",
        b"+5\nabcde",
        b" 5\nabcde",
        b"5 \nabcde",
        b"abc\n",
        b'{"type":1}',
        b"1e3\n",
        b"1" * 25,
        b"99999999999999999999\n",
    ],
)
def test_garbage_is_rejected(garbage: bytes) -> None:
    decoder = RecordIODecoder(max_record_bytes=1024)
    with pytest.raises(MesosError, match="RecordIO"):
        decoder.feed(garbage)


@given(prefix=records_strategy, junk=st.binary(min_size=1, max_size=20).filter(lambda b: not b[:1].isdigit()))
def test_garbage_after_good_records_is_rejected(prefix: list[bytes], junk: bytes) -> None:
    decoder = RecordIODecoder()
    assert decoder.feed(encode(prefix)) == prefix
    with pytest.raises(MesosError):
        decoder.feed(junk + b"\n")


def test_decoder_stays_failed() -> None:
    decoder = RecordIODecoder()
    with pytest.raises(MesosError):
        decoder.feed(b"x\n")
    with pytest.raises(MesosError):
        decoder.feed(b"1\na")


def test_record_over_limit_is_rejected() -> None:
    decoder = RecordIODecoder(max_record_bytes=10)
    assert decoder.feed(b"10\n0123456789") == [b"0123456789"]
    with pytest.raises(MesosError, match="limit"):
        decoder.feed(b"11\n")
