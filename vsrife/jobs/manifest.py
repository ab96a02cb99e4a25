"""The work folder of a render and its manifest: what lets a render resume after a crash.

``OUTPUT.vsrife/`` (beside the output) holds ``manifest.json`` and the finished segments.  The
manifest records the settings (and their hash), the chunk plan, and every finished segment with its
frame count, size and SHA-256.  It is rewritten atomically (a temporary file, fsync, rename) after each
segment, so a kill -9 at any moment leaves either the old or the new manifest.

On resume a recorded segment is kept only when its file is there with the recorded size and
checksum and ffprobe finds its frames; anything else (a truncated or corrupt file, a partial file,
a segment finished after the last manifest write) is deleted and rendered again.  A manifest with
other settings is never mixed with: the render stops with a message naming what changed, and
``--restart`` discards the old work.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..errors import JobError
from .chunks import Chunk
from .segment import SegmentInfo, count_frames, segment_name, sha256_of

__all__ = ["FORMAT", "Manifest", "disk_error", "work_folder"]

FORMAT = 1
NAME = "manifest.json"


def work_folder(output: Path) -> Path:
    """Where the render of ``output`` keeps its manifest and segments: ``OUTPUT.vsrife`` beside it."""
    return output.with_name(output.name + ".vsrife")


def disk_error(e: OSError, folder: Path) -> JobError:
    """A one-line error for a write that failed in the work folder; finished segments stay."""
    if e.errno == errno.ENOSPC:
        why = "no space left on device"
    elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "not writable" if e.errno != errno.EROFS else "on a read-only file system"
    else:
        why = e.strerror or str(e)
    return JobError(f"work folder {str(folder)!r}: {why}; the finished segments are kept there; "
                    "fix it and run the same command again to resume")


def _diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _diff(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out


class Manifest:
    """The manifest of one work folder."""

    def __init__(self, folder: Path, key: str, settings: dict[str, Any], chunks: list[Chunk],
                 chunk_frames: int) -> None:
        self.folder, self.key, self.settings = folder, key, settings
        self.chunks, self.chunk_frames = chunks, chunk_frames
        self.segments: dict[int, SegmentInfo] = {}
        self.resumed = False

    @classmethod
    def load(cls, folder: Path, key: str, settings: dict[str, Any]) -> Manifest | None:
        """The folder's manifest when there is one with these settings (None: no manifest yet).

        Raises JobError, naming what changed, when the folder holds a render with other settings.
        """
        old = cls._read(folder / NAME)
        if old is None:
            return None
        if old.get("key") != key:
            changed = _diff(old.get("settings", {}), settings) or ["the manifest is unreadable or of another format"]
            raise JobError(f"work folder {str(folder)!r} holds a render with other settings "
                           f"({'; '.join(changed[:3])}); run with --restart to discard it and start over")
        m = cls(folder, key, settings, [Chunk.from_list(c) for c in old["chunks"]], int(old["chunk_frames"]))
        m.segments = {int(k): SegmentInfo(**v) for k, v in old.get("segments", {}).items()}
        m.resumed = True
        return m

    @classmethod
    def create(cls, folder: Path, key: str, settings: dict[str, Any], chunks: list[Chunk],
               chunk_frames: int) -> Manifest:
        """A new manifest (the folder is created; anything in it is deleted by :meth:`verify`)."""
        m = cls(folder, key, settings, chunks, chunk_frames)
        m.save()
        return m

    @staticmethod
    def prepare(folder: Path, restart: bool) -> None:
        """Create the work folder (``restart``: after removing the old one); clear errors if it cannot be."""
        try:
            if restart and folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise disk_error(e, folder) from None

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"key": None, "settings": {}}  # unreadable: a mismatch, never silently replaced
        return data if isinstance(data, dict) and data.get("format") == FORMAT else {"key": None, "settings": {}}

    def save(self) -> None:
        data = {"format": FORMAT, "key": self.key, "settings": self.settings, "chunk_frames": self.chunk_frames,
                "chunks": [c.as_list() for c in self.chunks],
                "segments": {str(k): v.as_dict() for k, v in sorted(self.segments.items())}}
        tmp = self.folder / (NAME + ".tmp")
        try:
            with open(tmp, "w") as f:
                json.dump(data, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.folder / NAME)
        except OSError as e:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise disk_error(e, self.folder) from None

    def path_of(self, index: int, suffix: str) -> Path:
        return self.folder / segment_name(index, suffix)

    def record(self, info: SegmentInfo) -> None:
        self.segments[info.index] = info
        self.save()

    def verify(self, suffix: str, ffmpeg: str, keep: tuple[str, ...] = ()) -> list[int]:
        """Check the recorded segments (size, checksum, frame count); drop bad ones and stray files.

        Returns the indices of the chunks still to render.
        """
        good: dict[int, SegmentInfo] = {}
        for c in self.chunks:
            info = self.segments.get(c.index)
            path = self.path_of(c.index, suffix)
            if info is not None and self._intact(path, info, c, ffmpeg):
                good[c.index] = info
        names = {self.path_of(i, suffix).name for i in good} | {NAME, *keep}
        for p in self.folder.iterdir():
            if p.name not in names:
                with contextlib.suppress(OSError):
                    p.unlink() if p.is_file() or p.is_symlink() else shutil.rmtree(p)
        if good.keys() != self.segments.keys():
            self.segments = good
            self.save()
        return [c.index for c in self.chunks if c.index not in good]

    @staticmethod
    def _intact(path: Path, info: SegmentInfo, chunk: Chunk, ffmpeg: str) -> bool:
        try:
            if path.stat().st_size != info.size or info.frames != chunk.frames:
                return False
        except OSError:
            return False
        return sha256_of(path) == info.sha256 and count_frames(path, ffmpeg, decode=False) == chunk.frames

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
