"""Settings: built once (by the CLI) from JUICE_* environment variables and passed down."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from juice.core.plan import PlanLimits
from juice.core.reasons import RetryPolicy


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JUICE_", extra="ignore")

    # services
    redis_url: str = "redis://127.0.0.1:6379/0"
    mesos_master: str = "http://127.0.0.1:5050"
    s3_endpoint: str = "http://127.0.0.1:7480"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_region: str = "us-east-1"
    api_host: str = "127.0.0.1"
    api_port: int = 8080

    # Mesos framework
    intake_consumer: str = "scheduler"  # stable across restarts, so unacknowledged entries are read again
    framework_name: str = "juice"
    framework_user: str = "root"
    framework_role: str = "juice"
    failover_timeout: float = 7 * 24 * 3600.0
    webui_url: str = ""
    refuse_seconds: float = 5.0  # filter on offers declined while work still waits
    idle_refuse_seconds: float = 60.0  # filter on offers declined when nothing waits
    kill_grace_seconds: float = 10.0
    reconcile_interval_seconds: float = 900.0  # besides after every (re)subscribe
    leader_lease_seconds: float = 15.0  # a standby scheduler takes over this long after the leader died
    progress_poll_seconds: float = 3.0  # how often running tasks' progress reports are read

    # worker tasks
    worker_image: str = "juice-worker:0.1.0"
    video_task_cpus: float = 1.0
    video_task_mem: float = 768.0
    audio_task_cpus: float = 0.5
    audio_task_mem: float = 256.0
    worker_threads: int = 1
    x264_preset: str = "veryfast"
    presign_seconds: int = 6 * 3600

    # planning and retries
    chunk_seconds: float = 30.0
    max_duration_seconds: float = 4 * 3600.0
    max_pixels: int = 4096 * 2304
    parallelism: int = Field(default=0, description="task slots to plan for; 0 = from the offers seen")
    max_worker_failures: int = 3
    max_cluster_failures: int = 10
    max_concurrent_probes: int = 2

    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_worker_failures=self.max_worker_failures, max_cluster_failures=self.max_cluster_failures
        )

    def plan_limits(self, parallelism: int) -> PlanLimits:
        return PlanLimits(
            max_duration_seconds=self.max_duration_seconds,
            max_pixels=self.max_pixels,
            chunk_seconds=self.chunk_seconds,
            parallelism=self.parallelism or parallelism,
        )
