"""The worker task: one Mesos task encodes one chunk (or the audio) of a job and uploads it."""
