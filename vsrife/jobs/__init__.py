"""Chunked renders: many processes, many machines, one result (``vsrife interpolate --workers/--ray``).

Above :mod:`vsrife.vs` and :mod:`vsrife.media`, below :mod:`vsrife.cli`:

* :mod:`.chunks`: the chunk plan (source ranges ending at scene cuts, output ranges that tile exactly);
  :mod:`.cuts`: the filter's scene-cut decision where a chunk may end.
* :mod:`.spec`: what every worker needs (:class:`JobSpec`), the settings hash, the per-process graph.
* :mod:`.segment`: one chunk into one segment file; :mod:`.join`: segments joined with ``-c copy``.
* :mod:`.manifest`: the work folder beside the output, resume and its checks.
* :mod:`.local` (``--workers``) and :mod:`.cluster` (``--ray``): the backends; :mod:`.worker`: a local
  worker process.
* :mod:`.render`: the coordinator; :mod:`.progress`: its progress line.

See docs/render.md.
"""

from __future__ import annotations

from ..errors import JobError
from .chunks import Chunk, plan_chunks
from .manifest import work_folder
from .render import RenderReport, RenderRequest, auto_chunk_frames, render

__all__ = ["Chunk", "JobError", "RenderReport", "RenderRequest", "auto_chunk_frames", "plan_chunks", "render",
           "work_folder"]
