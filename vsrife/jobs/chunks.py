"""The chunk plan of a render: source-frame ranges, ending at scene cuts where one is near, and the
output-frame range each of them renders.

A chunk is a range ``[src_start, src_stop)`` of source frames.  It owns the output frames whose
source position (``position(n)[0]`` of the output timing) lies in that range, so the output ranges
are ``[first(src_start), first(src_stop))`` with ``first(s)`` the first output frame at or after
source frame ``s``.  That position never decreases with ``n`` for any mapping of the filter (multi,
factors, target rates, real timelines), so consecutive chunks tile ``[0, num_out)`` exactly, with
no gap and no overlap.  With dedup the output timing is the base mapping's (dedup re-times the
content, not the frames), so the chunks own the same frames as without dedup.

An output frame near the end of a chunk may be interpolated between the chunk's last source frame
and the next chunk's first one (with dedup: between the drawings around it, which may lie in the
neighbouring chunks): a worker renders output frames
``[out_start, out_stop)`` of the *whole* filter graph, so such a frame is made from the same pair,
at the same timestep, as in a single render.  A boundary at a scene cut needs no such pair: no
frame is interpolated across a cut.  Cutting there also puts the keyframe that every segment starts
with where the encoder would have put one anyway.

This module is arithmetic only (no VapourSynth); :mod:`.cuts` finds the cuts.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import InputError

__all__ = ["CUT_WINDOW", "Chunk", "first_output", "plan_chunks", "source_span", "windows"]

CUT_WINDOW = 0.25  # a chunk may end at a cut up to this fraction of its length before or after its target


class _Positions(Protocol):
    """What the planner needs of a mapping (:class:`vsrife.vs.timing.Mapping`)."""

    num_src: int
    num_out: int

    def position(self, n: int) -> tuple[int, Any]: ...

    def pair(self, n: int) -> tuple[int, int, Any]: ...


@dataclass(frozen=True)
class Chunk:
    """Source frames ``[src_start, src_stop)`` and the output frames ``[out_start, out_stop)`` they own."""

    index: int
    src_start: int
    src_stop: int
    out_start: int
    out_stop: int
    at_cut: bool  # the chunk ends at a scene cut (or at the end of the clip)

    @property
    def frames(self) -> int:
        return self.out_stop - self.out_start

    def as_list(self) -> list[int]:
        return [self.index, self.src_start, self.src_stop, self.out_start, self.out_stop, int(self.at_cut)]

    @classmethod
    def from_list(cls, v: list[int]) -> Chunk:
        return cls(int(v[0]), int(v[1]), int(v[2]), int(v[3]), int(v[4]), bool(v[5]))


def first_output(mapping: _Positions, s: int) -> int:
    """The first output frame whose source position is at or after source frame ``s`` (``num_out`` if none)."""
    mapping = getattr(mapping, "base", mapping)  # dedup: the output timing
    lo, hi = 0, mapping.num_out
    while lo < hi:
        mid = (lo + hi) // 2
        if mapping.position(mid)[0] >= s:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _target(remaining: int, limit: int) -> int:
    """Balanced chunk length: the remaining frames split evenly into as few chunks of <= ``limit`` as fit."""
    parts = -(-remaining // limit)
    return -(-remaining // parts)


def windows(start: int, remaining: int, limit: int) -> tuple[int, int, int]:
    """(lowest, target, highest) end of the chunk that starts at ``start``: where a cut is looked for."""
    target = _target(remaining, limit)
    slack = max(1, int(limit * CUT_WINDOW / 2))
    return start + max(1, target - slack), start + target, start + min(limit, target + slack)


def plan_chunks(mapping: _Positions, limit: int,
                cuts_in: Callable[[int, int], Iterable[int]] = lambda lo, hi: ()) -> list[Chunk]:
    """Chunks of at most ``limit`` source frames.

    ``cuts_in(lo, hi)`` gives the frames ``c`` in ``[lo, hi]`` that start a new scene (the pair
    ``(c - 1, c)`` straddles a cut); a chunk ends at the cut nearest its target length.  Chunks that
    would own no output frame (source frames a target rate drops) join their neighbour.
    """
    if limit < 1:
        raise InputError(f"chunk_frames must be >= 1, got {limit}")
    n = mapping.num_src
    bounds, at_cut = [0], []
    s = 0
    while n - s > limit:
        lo, target, hi = windows(s, n - s, limit)
        found = sorted(c for c in cuts_in(lo, hi) if lo <= c <= hi)
        if found:
            k = bisect.bisect_left(found, target)
            s = min(found[max(0, k - 1): k + 1], key=lambda c: (abs(c - target), c))
        else:
            s = target
        bounds.append(s)
        at_cut.append(bool(found))
    bounds.append(n)
    at_cut.append(True)
    return _tile(mapping, bounds, at_cut)


def _tile(mapping: _Positions, bounds: list[int], at_cut: list[bool]) -> list[Chunk]:
    outs = [first_output(mapping, b) for b in bounds[:-1]] + [mapping.num_out]
    parts: list[list] = []  # [src_start, src_stop, out_start, out_stop, at_cut]
    for k in range(len(bounds) - 1):
        part = [bounds[k], bounds[k + 1], outs[k], outs[k + 1], at_cut[k]]
        if parts and parts[-1][2] == parts[-1][3]:  # the previous chunk owns nothing: this one takes it over
            prev = parts.pop()
            part[0], part[2] = prev[0], prev[2]
        elif parts and part[2] == part[3]:  # this one owns nothing: the previous one extends to its end
            parts[-1][1], parts[-1][4] = part[1], part[4]
            continue
        parts.append(part)
    return [Chunk(k, a, b, oa, ob, cut) for k, (a, b, oa, ob, cut) in enumerate(parts)]


def source_span(mapping: _Positions, chunk: Chunk) -> tuple[int, int]:
    """(first, last) source frame that the output frames of ``chunk`` are made from (their pairs)."""
    lo, hi = mapping.num_src, -1
    for n in range(chunk.out_start, chunk.out_stop):
        i, j, _t = mapping.pair(n)
        lo, hi = min(lo, i), max(hi, j)
    return lo, hi
