"""Local services on loopback (Redis, Ceph RGW, ZooKeeper) for `juice local`, tests and benchmarks."""
