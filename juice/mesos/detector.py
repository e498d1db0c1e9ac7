"""Find the leading Mesos master through ZooKeeper (`zk://host1:2181,host2:2181/mesos`).

Every master contender owns an ephemeral sequential child `json.info_<10 digits>` of the znode, holding its
MasterInfo as JSON; the leader is the child with the lowest sequence number. kazoo watches the znode from
its own threads; changes are handed to the asyncio loop, where `leader_url` and `leader_changed()` read
them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.recipe.watchers import ChildrenWatch, DataWatch
from pydantic import ValidationError

from juice.errors import MesosError, MesosUnavailable
from juice.mesos.messages import MasterInfo

__all__ = [
    "MEMBER_PREFIX",
    "LeaderSource",
    "ZooKeeperDetector",
    "ZooKeeperUrl",
    "leader_node",
    "parse_zk_url",
]

logger = logging.getLogger(__name__)

MEMBER_PREFIX = "json.info_"


class LeaderSource(Protocol):
    """Where the leading master is, e.g. `ZooKeeperDetector`."""

    async def current_leader(self) -> str | None:
        """The leader's URL, or None when there is none right now."""
        ...

    async def leader_changed(self, since: str | None) -> None:
        """Return once the leader differs from `since`."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class ZooKeeperUrl:
    hosts: str  # "h1:2181,h2:2181"
    path: str  # "/mesos"
    credentials: str | None  # "user:password" for digest auth


def parse_zk_url(url: str) -> ZooKeeperUrl:
    """`zk://[user:pass@]h1:2181,h2:2181/mesos` -> its parts."""
    if not url.startswith("zk://"):
        raise MesosError(f"not a zk:// URL: {url!r}")
    rest = url[len("zk://") :]
    authority, slash, path = rest.partition("/")
    credentials, at, hosts = authority.rpartition("@")
    if not at:
        credentials, hosts = "", authority
    path = "/" + path.strip("/")
    if not slash or path == "/":
        raise MesosError(f"zk:// URL without a znode path (e.g. /mesos): {url!r}")
    if not hosts or any(not host.strip() for host in hosts.split(",")):
        raise MesosError(f"zk:// URL without hosts: {url!r}")
    return ZooKeeperUrl(hosts=hosts, path=path, credentials=credentials or None)


def leader_node(children: list[str]) -> str | None:
    """The member with the lowest sequence number among `json.info_*` children (others are ignored)."""
    members: list[tuple[int, str]] = []
    for name in children:
        suffix = name[len(MEMBER_PREFIX) :]
        if name.startswith(MEMBER_PREFIX) and suffix.isdigit():
            members.append((int(suffix), name))
    return min(members)[1] if members else None


class ZooKeeperDetector:
    """Tracks the leading master. `start()` connects; `close()` releases the session."""

    def __init__(self, url: str, *, session_timeout: float = 10.0, connect_timeout: float = 10.0) -> None:
        self._url = parse_zk_url(url)
        self._session_timeout = session_timeout
        self._connect_timeout = connect_timeout
        self._zk: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watched_czxid: int | None = None  # creation id of the znode our ChildrenWatch follows
        self._leader: MasterInfo | None = None
        self._leader_url: str | None = None
        self._changed = asyncio.Event()
        self._start_lock = asyncio.Lock()
        self._closed = False

    @property
    def leader_url(self) -> str | None:
        """`http://ip:port` of the leading master, None when there is none (or not known yet)."""
        return self._leader_url

    @property
    def leader(self) -> MasterInfo | None:
        return self._leader

    @property
    def started(self) -> bool:
        return self._zk is not None

    async def start(self) -> None:
        """Connect and start watching; raises `MesosUnavailable` when ZooKeeper cannot be reached."""
        async with self._start_lock:
            if self._closed:
                raise MesosError("the ZooKeeper detector is closed")
            if self._zk is not None:
                return
            self._loop = asyncio.get_running_loop()
            auth = [("digest", self._url.credentials)] if self._url.credentials else None
            zk = KazooClient(hosts=self._url.hosts, timeout=self._session_timeout, auth_data=auth)
            try:
                await asyncio.to_thread(zk.start, self._connect_timeout)
            except (KazooTimeoutError, KazooException) as exc:
                raise MesosUnavailable(f"ZooKeeper {self._url.hosts} unreachable: {exc}") from exc
            self._zk = zk
            await asyncio.to_thread(DataWatch, zk, self._url.path, self._on_znode)
            logger.info("zookeeper: watching", extra={"hosts": self._url.hosts, "path": self._url.path})

    async def current_leader(self, wait: float = 1.0) -> str | None:
        """The leader URL, starting the detector first if needed; waits up to `wait` s for one to appear."""
        if self._closed:
            return None
        try:
            await self.start()
        except MesosUnavailable as exc:
            logger.warning("zookeeper: cannot detect the leading master", extra={"error": str(exc)})
            return None
        if self._leader_url is None:
            try:
                async with asyncio.timeout(wait):
                    await self.leader_changed(None)
            except TimeoutError:
                pass
        return self._leader_url

    async def leader_changed(self, since: str | None) -> None:
        """Return once the leader URL differs from `since`."""
        while self._leader_url == since:
            changed = self._changed
            await changed.wait()

    async def close(self) -> None:
        self._closed = True
        zk, self._zk = self._zk, None
        if zk is not None:
            await asyncio.to_thread(_stop, zk)

    # -------------------------------------------------------------------- kazoo threads

    def _on_znode(self, data: bytes | None, stat: Any) -> None:
        """DataWatch on the znode itself: (re)start the children watch whenever the znode exists.

        A znode deleted and created again quickly may never be seen as missing (the watch re-reads it
        after the re-creation), so a new znode is told apart by its creation id, not by a missed None.
        """
        zk = self._zk
        if zk is None:
            return
        if stat is None:
            self._watched_czxid = None
            self._publish(None)
        elif stat.czxid != self._watched_czxid:
            self._watched_czxid = stat.czxid
            ChildrenWatch(zk, self._url.path, self._on_children)

    def _on_children(self, children: list[str]) -> bool | None:
        zk = self._zk
        if zk is None:
            return False
        node = leader_node(children)
        if node is None:
            self._publish(None)
            return None
        try:
            data, _stat = zk.get(f"{self._url.path}/{node}")
        except NoNodeError:
            return None  # gone already; the next children event says who leads now
        self._publish(_parse_master_info(node, data))
        return None

    def _publish(self, info: MasterInfo | None) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._set_leader, info)

    # -------------------------------------------------------------------- event loop

    def _set_leader(self, info: MasterInfo | None) -> None:
        url = info.url() if info is not None else None
        self._leader = info
        if url == self._leader_url:
            return
        logger.info("zookeeper: leading master changed", extra={"previous": self._leader_url, "leader": url})
        self._leader_url = url
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()


def _parse_master_info(node: str, data: bytes | None) -> MasterInfo | None:
    try:
        info = MasterInfo.model_validate_json(data or b"")
    except ValidationError:
        logger.warning("zookeeper: member data is not MasterInfo JSON", extra={"node": node})
        return None
    if info.url() is None:
        logger.warning("zookeeper: MasterInfo without an address", extra={"node": node})
        return None
    return info


def _stop(zk: Any) -> None:
    zk.stop()
    zk.close()
