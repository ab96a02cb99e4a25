"""Pair clips: for each output frame, the source frames it is made from, as VapourSynth nodes."""

from __future__ import annotations

from collections.abc import Callable

import vapoursynth as vs

from .timing import CFRMapping, Mapping

__all__ = ["MAX_STATIC_CYCLE", "pair_clips", "remap", "uncached"]


def remap(clip: vs.VideoNode, length: int, index: Callable[[int], int]) -> vs.VideoNode:
    """A clip of ``length`` frames whose frame n is ``clip[index(n)]`` (props included)."""
    base = clip.std.BlankClip(length=length, keep=True)
    return base.std.FrameEval(lambda n: clip[index(n)], clip_src=[clip])


MAX_STATIC_CYCLE = 240


def pair_clips(clip: vs.VideoNode, mapping: Mapping) -> tuple[vs.VideoNode, vs.VideoNode]:
    """Clips whose frame n is source frame i and i + 1 (clamped) of output frame n.

    For constant rates with a short cycle (factor p/q, p <= 240) this is a static graph of
    ``SelectEvery`` + ``Interleave`` (no Python per frame, no nodes created while rendering);
    otherwise frames are picked by ``remap``.  Where t = 0 both clips show frame i, so a source
    frame passed through never depends on its successor.
    """
    n_out = mapping.num_out
    if type(mapping) is CFRMapping:
        p, q = mapping.factor.numerator, mapping.factor.denominator
        if p <= MAX_STATIC_CYCLE and clip.num_frames >= q:
            nxt = clip[1:] + clip[-1]

            def pick(second: bool) -> vs.VideoNode:
                phases = []
                for k in range(p):  # output frame m*p + k shows source m*q + k*q//p at t = (k*q % p) / p
                    c = nxt if second and (k * q) % p else clip
                    phases.append(c if q == 1 else c.std.SelectEvery(cycle=q, offsets=[k * q // p]))
                return vs.core.std.Interleave(uncached(*phases))[:n_out]

            return uncached(pick(False), pick(True))
    return uncached(remap(clip, n_out, lambda n: mapping.pair(n)[0]),
                    remap(clip, n_out, lambda n: mapping.pair(n)[1]))


def uncached(*nodes: vs.VideoNode) -> tuple[vs.VideoNode, ...]:
    """Turn VapourSynth's frame cache off for output-rate nodes: each of their frames is used once.

    With the default cache policy these caches otherwise keep growing towards ``core.max_cache_size``
    over a long run (measured in docs/reliability.md); the source-rate nodes keep their caches.
    """
    for node in nodes:
        node.std.SetVideoCache(mode=0)
    return nodes
