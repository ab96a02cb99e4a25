import vapoursynth as vs

__version__: str
__all__ = ["RIFE", "__version__"]

def RIFE(  # noqa: N802
    clip: vs.VideoNode,
    multi: int | None = None,
    factor_num: int | None = None,
    factor_den: int | None = None,
    fps_num: int | None = None,
    fps_den: int | None = None,
    model: str | None = None,
    model_path: str | None = None,
    scale: float | None = None,
    ensemble: bool | None = None,
    device: str | None = None,
    fp16: bool | None = None,
    sc: bool | None = None,
    sc_threshold: float | None = None,
    dedup: bool | None = None,
    dedup_threshold: float | None = None,
    matrix_in: int | None = None,
    range_in: int | None = None,
    timeline: str | None = None,
    timecodes: str | None = None,
) -> vs.VideoNode: ...
