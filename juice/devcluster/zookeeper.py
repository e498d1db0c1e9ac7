"""ZooKeeper membership of a dev master, the way a Mesos master contends for leadership.

The master creates an ephemeral sequential child `json.info_<10 digits>` of the znode (`zk://hosts/mesos`)
holding its MasterInfo as JSON. The member with the lowest sequence number leads
(`juice.mesos.detector.leader_node`); the others are standbys that redirect to it. A ChildrenWatch reports
every change as `on_change(elected, leader_info)`, called from a kazoo thread. `close()` ends the session,
so the node is gone at once. If the session expires, the master is told it lost leadership and contends
again with a new node once reconnected.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.recipe.watchers import ChildrenWatch

from juice.errors import MesosError, ServiceError
from juice.mesos.detector import MEMBER_PREFIX, leader_node, parse_zk_url

logger = logging.getLogger(__name__)

JsonObject = dict[str, Any]
OnChange = Callable[[bool, JsonObject | None], None]


def parse_master_info(data: bytes | None) -> JsonObject | None:
    """A member node's MasterInfo JSON; None when it is not a JSON object with a port."""
    if not data:
        return None
    try:
        info = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("port"), int):
        return None
    return info


class ZooKeeperMembership:
    def __init__(
        self,
        url: str,
        info: JsonObject,
        on_change: OnChange,
        *,
        session_timeout: float = 10.0,
        connect_timeout: float = 10.0,
    ) -> None:
        try:
            parsed = parse_zk_url(url)
        except MesosError as exc:
            raise ServiceError(f"dev cluster: {exc}") from exc
        self._url = url
        self._path = parsed.path
        self._info = info
        self._on_change = on_change
        self._connect_timeout = connect_timeout
        auth = [("digest", parsed.credentials)] if parsed.credentials else None
        self._zk = KazooClient(hosts=parsed.hosts, timeout=session_timeout, auth_data=auth)
        self._node: str | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._session_lost = False

    @property
    def node(self) -> str | None:
        """The full path of this master's member node (None before `start()` or after the session expired)."""
        return self._node

    def start(self) -> None:
        """Connect, create the member node and start watching (blocking; raises `ServiceError`)."""
        try:
            self._zk.start(timeout=self._connect_timeout)
        except KazooTimeoutError as exc:
            raise ServiceError(f"dev cluster: cannot reach ZooKeeper at {self._url}") from exc
        try:
            self._zk.ensure_path(self._path)
            self._contend()
            self._zk.add_listener(self._on_state)
            ChildrenWatch(self._zk, self._path, self._on_children)
        except KazooException as exc:
            self.close()
            raise ServiceError(f"dev cluster: joining ZooKeeper at {self._url} failed: {exc}") from exc

    def close(self) -> None:
        """End the session: the ephemeral member node disappears immediately."""
        with self._lock:
            self._closed = True
        try:
            self._zk.stop()
            self._zk.close()
        except KazooException:
            logger.warning("closing the ZooKeeper session failed", exc_info=True)
        logger.info("left ZooKeeper", extra={"node": self._node})

    def _contend(self) -> None:
        data = json.dumps(self._info, separators=(",", ":")).encode("utf-8")
        self._node = self._zk.create(
            f"{self._path}/{MEMBER_PREFIX}", data, ephemeral=True, sequence=True, makepath=True
        )
        logger.info("joined ZooKeeper", extra={"node": self._node, "pid": self._info.get("pid")})

    def _on_state(self, state: str) -> None:
        """kazoo connection listener (must not block): re-contend after the session was lost."""
        if state == KazooState.LOST:
            self._session_lost = True
            self._node = None
            self._on_change(False, None)
        elif state == KazooState.CONNECTED and self._session_lost and not self._closed:
            self._session_lost = False
            self._zk.handler.spawn(self._recontend)

    def _recontend(self) -> None:
        try:
            self._contend()
            self._publish(self._zk.get_children(self._path))
        except KazooException:
            logger.exception("re-joining ZooKeeper failed")

    def _on_children(self, children: list[str]) -> bool:
        with self._lock:
            if self._closed:
                return False
        try:
            self._publish(children)
        except KazooException:
            logger.exception("reading the leader from ZooKeeper failed")
        return True

    def _publish(self, children: list[str]) -> None:
        """Work out the leader among the members and report it (the leader's node may vanish meanwhile)."""
        while True:
            name = leader_node(children)
            if name is None or self._node is None:
                self._on_change(False, None)
                return
            if f"{self._path}/{name}" == self._node:
                self._on_change(True, self._info)
                return
            try:
                data, _ = self._zk.get(f"{self._path}/{name}")
            except NoNodeError:
                children = self._zk.get_children(self._path)
                continue
            self._on_change(False, parse_master_info(data))
            return
