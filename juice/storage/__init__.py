"""Object storage (S3 API, Ceph RGW)."""
