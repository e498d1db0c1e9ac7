"""The scheduler service: Mesos events, intake and timers in, store transitions and Mesos calls out."""
