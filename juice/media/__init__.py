"""Media: ffprobe, fMP4 HLS playlists and codec strings, stitching, output checks, sample clips."""
