"""Finding and running the external tools (ffmpeg, ffprobe, mkvmerge)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..errors import MediaError

__all__ = ["HINTS", "ffprobe_for", "find_tool", "run_tool"]

HINTS = {
    "ffmpeg": "install ffmpeg (Debian: apt-get install ffmpeg) or pass --ffmpeg /path/to/ffmpeg",
    "ffprobe": "install ffmpeg, which includes ffprobe",
    "mkvmerge": "install mkvtoolnix (Debian: apt-get install mkvtoolnix) or set VSRIFE_MKVMERGE",
}


def find_tool(name: str, kind: str | None = None) -> str:
    """The full path of executable ``name`` (a path or a name on PATH); ``kind`` picks the hint."""
    found = shutil.which(name)
    if not found:
        kind = kind or Path(name).name
        raise MediaError(f"{kind} not found ({name!r}); {HINTS.get(kind, 'install it')}")
    return found


def ffprobe_for(ffmpeg: str) -> str | None:
    """ffprobe beside ``ffmpeg`` (same directory), else on PATH; None when there is none."""
    beside = Path(ffmpeg).with_name("ffprobe")
    if beside.is_file():
        return str(beside)
    return shutil.which("ffprobe")


def run_tool(cmd: list[str], what: str) -> str:
    """Run ``cmd``; its stdout, or MediaError with the last line of its messages."""
    try:
        res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
    except OSError as e:
        raise MediaError(f"cannot start {cmd[0]!r} ({what}): {e.strerror or e}") from None
    # mkvmerge exits 1 for warnings (the file is fine), 2 for errors
    ok = res.returncode == 0 or (res.returncode == 1 and Path(cmd[0]).name.startswith("mkvmerge"))
    if not ok:
        lines = [ln for ln in (res.stderr + "\n" + res.stdout).splitlines() if ln.strip()]
        raise MediaError(f"{what} failed (exit {res.returncode}): {lines[-1] if lines else 'no message'}")
    return res.stdout
