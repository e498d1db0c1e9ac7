"""Mesos master addresses: normalising what the user gives and resolving 307 redirects."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from juice.errors import MesosError

__all__ = ["API_PATH", "DEFAULT_PORT", "normalize_master", "redirect_target"]

API_PATH = "/api/v1/scheduler"
DEFAULT_PORT = 5050


def normalize_master(master: str) -> str:
    """`host:port`, `http://host:port[/...]` -> `http://host:port` (port 5050 when missing)."""
    text = master.strip()
    if "//" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise MesosError(f"not a Mesos master address: {master!r}")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise MesosError(f"bad port in Mesos master address {master!r}") from exc
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


def redirect_target(current: str, location: str) -> str:
    """Resolve a (usually protocol-relative) Location against the master that sent it."""
    return normalize_master(urljoin(current + API_PATH, location))
