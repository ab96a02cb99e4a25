"""Media files around the filter: reading a source's timeline, encoding, timestamps and muxing.

A layer above :mod:`vsrife.vs` and below :mod:`vsrife.cli`; it runs the external tools
(ffmpeg, ffprobe, mkvmerge) and knows nothing about argparse:

* :mod:`.source`: open a file with bestsource together with its real timeline (from the index, free).
* :mod:`.probe`: ffprobe queries (start times, streams, frame timestamps).
* :mod:`.y4m`: YUV4MPEG2 writing (the pipe into ffmpeg).
* :mod:`.encode`: the ffmpeg encode command (:class:`EncodeOptions`) and the running encoder
  (:class:`FFmpegPipe`).
* :mod:`.mux`: variable-frame-rate timestamps (mkvmerge ``--timestamps``) and the final mux of the
  video with the source's audio, subtitles and chapters.

A constant-rate output is encoded in one ffmpeg run with the audio; a variable-rate one is encoded
video-only, re-stamped by mkvmerge from a timecodes v2 file, then muxed with ``-c:v copy``
(:func:`~.mux.finish`).  Segments of a chunked render can be joined before :func:`~.mux.finish`.
"""

from __future__ import annotations

from .encode import EncodeOptions, FFmpegPipe, encode_command
from .mux import finish, mux, restamp
from .probe import start_offset
from .source import TimedSource, open_timed
from .tools import find_tool

__all__ = ["EncodeOptions", "FFmpegPipe", "TimedSource", "encode_command", "find_tool", "finish", "mux",
           "open_timed", "restamp", "start_offset"]
