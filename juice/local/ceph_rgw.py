"""A throwaway one-node Ceph cluster serving S3 on loopback: one mon, one memstore OSD, one radosgw.

Every path (mon and OSD data, run dir, admin sockets, pid files, logs, crash dir) lives in a temp
directory. Auth is off inside the cluster; S3 requests are signed with an access/secret key pair made up
for this run. The OSD keeps its data in RAM, so stopping the cluster drops everything stored in it.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import string
import time
import uuid
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from juice.errors import ServiceError
from juice.local.procs import (
    LOOPBACK,
    ManagedProcess,
    free_ports,
    pid_listens_on,
    port_is_free,
    require_executable,
    run_command,
    start_process,
    stop_at_exit,
    wait_until,
)
from juice.local.service import LocalService

log = logging.getLogger(__name__)

EXECUTABLES = ("monmaptool", "ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph")
STEP_DEADLINE_SECONDS = 60.0
COMMAND_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
S3_USER = "juice"


def _random_key(length: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


class CephRGW(LocalService):
    """mon + memstore OSD + radosgw on 127.0.0.1; S3 at `endpoint` with per-run keys.

    Stopped radosgw first, then the OSD, then the mon (the reverse of their start), each by PID.
    """

    DIR_PREFIX = "juice-ceph-"
    TERM_TIMEOUT = STOP_TIMEOUT_SECONDS

    def __init__(self, *, port: int | None = None, work_dir: Path | None = None) -> None:
        super().__init__(work_dir)
        self._requested_port = port
        self.port = 0
        self.access_key = _random_key(20, string.ascii_uppercase + string.digits)
        self.secret_key = _random_key(40, string.ascii_letters + string.digits)
        self.fsid = str(uuid.uuid4())
        self._mon_ports = (0, 0)

    @property
    def endpoint(self) -> str:
        if "radosgw" not in self._procs:
            raise ServiceError("ceph rgw is not running")
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pids(self) -> dict[str, int]:
        """PIDs of the running daemons by name (ceph-mon, ceph-osd, radosgw)."""
        return {name: proc.pid for name, proc in self._procs.items()}

    @property
    def conf_path(self) -> Path:
        if self.work_dir is None:
            raise ServiceError("ceph rgw is not running")
        return self.work_dir / "ceph.conf"

    @staticmethod
    def missing_prerequisites() -> list[str]:
        """What must be installed before start() can work (empty when nothing is missing)."""
        return [name for name in EXECUTABLES if shutil.which(name) is None]

    def start(self) -> CephRGW:
        if self._procs:
            return self
        for name in EXECUTABLES:
            require_executable(name)
        rgw_port, mon_v2, mon_v1 = free_ports(3)
        self.port = self._requested_port or rgw_port
        self._mon_ports = (mon_v2, mon_v1)
        if not port_is_free(self.port):
            raise ServiceError(f"ceph rgw: port {self.port} on {LOOPBACK} is already in use")
        self._prepare_dir()
        stop_at_exit(self)
        started = time.monotonic()
        try:
            self._start_mon()
            self._start_osd()
            self._start_rgw()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        log.info(
            "ceph rgw ready",
            extra={"port": self.port, "pids": self.pids, "seconds": round(self.start_seconds, 2)},
        )
        return self

    # -- setup steps -------------------------------------------------------------------------------------

    def _prepare_dir(self) -> Path:
        work_dir = super()._prepare_dir()
        for stale in ("mon", "osd", "run", "crash", "rgw", "monmap", "ceph.conf"):
            path = work_dir / stale  # a given work_dir may hold a previous, stopped cluster
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        for sub in ("mon", "osd/ceph-0", "run", "log", "crash", "rgw"):
            (work_dir / sub).mkdir(parents=True, exist_ok=True)
        return work_dir

    def _start_mon(self) -> None:
        assert self.work_dir is not None
        mon_v2, mon_v1 = self._mon_ports
        addrs = f"[v2:{LOOPBACK}:{mon_v2},v1:{LOOPBACK}:{mon_v1}]"
        self.conf_path.write_text(
            render_conf(self.work_dir, fsid=self.fsid, mon_addrs=addrs, rgw_port=self.port)
        )
        monmap = self.work_dir / "monmap"
        conf = str(self.conf_path)
        run_command(
            "monmaptool",
            ["monmaptool", "--create", "--fsid", self.fsid, "--addv", "a", addrs, str(monmap)],
            timeout=COMMAND_TIMEOUT_SECONDS,
        )
        run_command(
            "ceph-mon",
            ["ceph-mon", "-c", conf, "-i", "a", "--mkfs", "--monmap", str(monmap)],
            timeout=COMMAND_TIMEOUT_SECONDS,
        )
        mon = self._launch("ceph-mon", ["ceph-mon", "-f", "-c", conf, "-i", "a"])
        wait_until(
            self._mon_answers, what="ceph mon quorum", deadline_seconds=STEP_DEADLINE_SECONDS, watch=[mon]
        )

    def _start_osd(self) -> None:
        conf = str(self.conf_path)
        osd_uuid = str(uuid.uuid4())
        osd_id = self._ceph("osd", "new", osd_uuid).strip()
        if osd_id != "0":
            raise ServiceError(f"ceph: expected OSD id 0 from 'osd new', got {osd_id!r}")
        run_command(
            "ceph-osd",
            ["ceph-osd", "-c", conf, "-i", "0", "--mkfs", "--osd-uuid", osd_uuid],
            timeout=COMMAND_TIMEOUT_SECONDS,
        )
        osd = self._launch("ceph-osd", ["ceph-osd", "-f", "-c", conf, "-i", "0"])
        wait_until(
            self._osd_up,
            what="ceph osd up",
            deadline_seconds=STEP_DEADLINE_SECONDS,
            watch=[self._procs["ceph-mon"], osd],
        )

    def _start_rgw(self) -> None:
        conf = str(self.conf_path)
        rgw = self._launch("radosgw", ["radosgw", "-f", "-c", conf, "-n", "client.rgw.a"])
        run_command(
            "radosgw-admin",
            [
                "radosgw-admin",
                "-c",
                conf,
                "user",
                "create",
                "--uid",
                S3_USER,
                "--display-name",
                S3_USER,
                "--access-key",
                self.access_key,
                "--secret-key",
                self.secret_key,
            ],
            timeout=COMMAND_TIMEOUT_SECONDS,
        )
        wait_until(
            self._s3_answers,
            what="signed S3 ListBuckets",
            deadline_seconds=STEP_DEADLINE_SECONDS,
            watch=list(self._procs.values()),
            interval=0.1,
        )
        if not pid_listens_on(rgw.pid, self.port):
            raise ServiceError(f"radosgw pid {rgw.pid} answers S3 but does not own port {self.port}")

    # -- helpers -----------------------------------------------------------------------------------------

    def _launch(self, name: str, argv: list[str]) -> ManagedProcess:
        assert self.work_dir is not None
        proc = start_process(name, argv, log_path=self.work_dir / "log" / f"{name}.out", cwd=self.work_dir)
        self._procs[name] = proc
        return proc

    def _ceph(self, *args: str) -> str:
        argv = ["ceph", "-c", str(self.conf_path), "--connect-timeout", "10", *args]
        return run_command("ceph", argv, timeout=COMMAND_TIMEOUT_SECONDS)

    def _mon_answers(self) -> bool:
        try:
            self._ceph("mon", "stat")
        except ServiceError:
            return False
        return True

    def _osd_up(self) -> bool:
        try:
            status = json.loads(self._ceph("osd", "stat", "-f", "json"))
        except (ServiceError, ValueError):
            return False
        return int(status.get("num_up_osds", 0)) >= 1

    def _s3_answers(self) -> bool:
        rgw = self._procs.get("radosgw")
        if rgw is None or not rgw.alive():
            return False
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=f"http://{LOOPBACK}:{self.port}",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                signature_version="s3v4",
                retries={"max_attempts": 1, "mode": "standard"},
                connect_timeout=1,
                read_timeout=2,
            ),
        )
        try:
            client.list_buckets()
        except (BotoCoreError, ClientError):
            return False
        finally:
            client.close()
        return pid_listens_on(rgw.pid, self.port)


def render_conf(work_dir: Path, *, fsid: str, mon_addrs: str, rgw_port: int) -> str:
    """ceph.conf for a one-node loopback cluster with every path inside work_dir."""
    d = work_dir
    return f"""[global]
fsid = {fsid}
mon host = {mon_addrs}
mon initial members = a
public network = {LOOPBACK}/32
public addr = {LOOPBACK}
cluster addr = {LOOPBACK}
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd crush chooseleaf type = 0
paxos propose interval = 0.1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
run dir = {d}/run
admin socket = {d}/run/$name.asok
pid file = {d}/run/$name.pid
log file = {d}/log/$name.log
mon cluster log file = {d}/log/$cluster.log
crash dir = {d}/crash
keyring = {d}/keyring
mon data = {d}/mon/$cluster-$id
osd data = {d}/osd/$cluster-$id

[osd.0]
osd objectstore = memstore

[client.rgw.a]
rgw frontends = beast endpoint={LOOPBACK}:{rgw_port}
rgw data = {d}/rgw
"""
