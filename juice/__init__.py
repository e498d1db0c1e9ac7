"""Juice: distributed video transcoding on Apache Mesos."""

__version__ = "0.1.0"
__all__ = ["__version__"]
