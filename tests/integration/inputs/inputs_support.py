"""Small media probes of the edge-input tests."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path


def leading_frames_after_keyframes(path: Path) -> int:
    """Packets that follow a keyframe other than the first in decode order but show before it (open GOP)."""
    argv = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts,flags"]
    done = subprocess.run([*argv, "-of", "json", str(path)], capture_output=True, check=True)
    packets = json.loads(done.stdout)["packets"]
    leading, keyframe_pts = 0, None
    for i, packet in enumerate(packets):
        pts = int(packet["pts"])
        if "K" in packet["flags"] and i > 0:
            keyframe_pts = pts
        elif keyframe_pts is not None and pts < keyframe_pts:
            leading += 1
    return leading


def tone_power(playlist: Path, frequency: float, *, start: float = 0.3, seconds: float = 0.5) -> float:
    """Goertzel power of one frequency in a stretch of a decoded audio playlist (mono, 8 kHz)."""
    rate = 8000
    argv = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(playlist), "-ss", str(start), "-t", str(seconds)]
    argv += ["-ac", "1", "-ar", str(rate), "-f", "s16le", "-"]
    raw = subprocess.run(argv, capture_output=True, check=True).stdout
    samples = [int.from_bytes(raw[i : i + 2], "little", signed=True) for i in range(0, len(raw) - 1, 2)]
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    previous = before = 0.0
    for sample in samples:
        previous, before = sample + coefficient * previous - before, previous
    return previous * previous + before * before - coefficient * previous * before
