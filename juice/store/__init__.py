"""Redis persistence: the only place job and segment state lives."""
