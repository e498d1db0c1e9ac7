"""The job-status HTTP API."""
