"""A Mesos-v1-API-compatible dev cluster: one master and N agents that run tasks as local processes."""

from juice.devcluster.server import DevClusterConfig, DevClusterThread, run_forever

__all__ = ["DevClusterConfig", "DevClusterThread", "run_forever"]
