"""Strict readers for Mesos v1 proto-JSON, and the errors a call can be refused with.

The master parses JSON into protobuf messages: fields of the wrong JSON type, missing `required` fields and
numeric enum values make the whole call unparseable (HTTP 400). Unknown fields are ignored, and an unknown
name in an optional enum field is dropped, as stout's JSON-to-protobuf conversion does.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection
from typing import Any

from juice.errors import MesosError

JsonObject = dict[str, Any]


class CallRefused(MesosError):
    """A scheduler call the master answers with a 4xx status."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class InvalidCall(CallRefused):
    """400 Bad Request: unparseable or invalid call."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


def obj(parent: JsonObject, key: str, *, where: str) -> JsonObject | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidCall(f"Failed to parse {where}.{key}: expecting a JSON object")
    return value


def req_obj(parent: JsonObject, key: str, *, where: str) -> JsonObject:
    value = obj(parent, key, where=where)
    if value is None:
        raise InvalidCall(f"Failed to parse {where}: missing required field '{key}'")
    return value


def objs(parent: JsonObject, key: str, *, where: str) -> list[JsonObject]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InvalidCall(f"Failed to parse {where}.{key}: expecting an array of JSON objects")
    return list(value)


def string(parent: JsonObject, key: str, *, where: str) -> str | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidCall(f"Failed to parse {where}.{key}: expecting a string")
    return value


def req_string(parent: JsonObject, key: str, *, where: str) -> str:
    value = string(parent, key, where=where)
    if value is None:
        raise InvalidCall(f"Failed to parse {where}: missing required field '{key}'")
    return value


def strings(parent: JsonObject, key: str, *, where: str) -> list[str]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidCall(f"Failed to parse {where}.{key}: expecting an array of strings")
    return list(value)


def boolean(parent: JsonObject, key: str, *, where: str, default: bool) -> bool:
    value = parent.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidCall(f"Failed to parse {where}.{key}: expecting a boolean")
    return value


def number(parent: JsonObject, key: str, *, where: str) -> float | None:
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidCall(f"Failed to parse {where}.{key}: expecting a number")
    return float(value)


def req_number(parent: JsonObject, key: str, *, where: str) -> float:
    value = number(parent, key, where=where)
    if value is None:
        raise InvalidCall(f"Failed to parse {where}: missing required field '{key}'")
    return value


def integer(parent: JsonObject, key: str, *, where: str) -> int | None:
    """An int64/uint64 field: a JSON integer, or a decimal string as stout also accepts."""
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidCall(f"Failed to parse {where}.{key}: expecting an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise InvalidCall(f"Failed to parse {where}.{key}: expecting an integer")


def req_integer(parent: JsonObject, key: str, *, where: str) -> int:
    value = integer(parent, key, where=where)
    if value is None:
        raise InvalidCall(f"Failed to parse {where}: missing required field '{key}'")
    return value


def enum(parent: JsonObject, key: str, names: Collection[str], *, where: str) -> str | None:
    """An optional enum: names only (numbers are a parse error); an unknown name is dropped."""
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidCall(f"Failed to parse {where}.{key}: expecting an enum name (string)")
    return value if value in names else None


def req_enum(parent: JsonObject, key: str, names: Collection[str], *, where: str) -> str:
    value = parent.get(key)
    if value is None:
        raise InvalidCall(f"Failed to parse {where}: missing required field '{key}'")
    if not isinstance(value, str):
        raise InvalidCall(f"Failed to parse {where}.{key}: expecting an enum name (string)")
    if value not in names:
        raise InvalidCall(f"Failed to parse {where}.{key}: unknown enum value '{value}'")
    return value


def id_value(parent: JsonObject, key: str, *, where: str) -> str | None:
    """An `XxxID` message: `{"value": "..."}` with `value` required."""
    wrapper = obj(parent, key, where=where)
    if wrapper is None:
        return None
    return req_string(wrapper, "value", where=f"{where}.{key}")


def req_id_value(parent: JsonObject, key: str, *, where: str) -> str:
    value = id_value(parent, key, where=where)
    if value is None:
        raise InvalidCall(f"Failed to parse {where}: missing required field '{key}'")
    return value


def id_values(parent: JsonObject, key: str, *, where: str) -> list[str]:
    return [req_string(item, "value", where=f"{where}.{key}") for item in objs(parent, key, where=where)]


def b64bytes(parent: JsonObject, key: str, *, where: str) -> bytes | None:
    value = string(parent, key, where=where)
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCall(f"Failed to parse {where}.{key}: invalid base64") from exc
