"""The ``vsrife`` command line: interpolate (ffmpeg pipe, audio, errors, Ctrl-C), info, show, --help."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vsrife
from vsrife.cli import build_parser, main
from vsrife.dev import visualize

W, H = 96, 54  # tiny clip: 6 frames of bigbuckbunny (25 fps) with its AAC audio


@pytest.fixture(scope="module")
def media(footage: Path, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli_media")
    tiny = d / "tiny.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(footage / "bigbuckbunny.mp4"), "-frames:v", "6",
                    "-vf", f"scale={W}:{H}", "-c:v", "libx264", "-crf", "12", "-c:a", "aac", "-t", "0.24", str(tiny)],
                   check=True)
    garbage = d / "garbage.mp4"
    garbage.write_bytes(b"this is not a video\n" * 50)
    return {"tiny": tiny, "garbage": garbage, "dir": d}


def probe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                          "stream=codec_type,codec_name,r_frame_rate,nb_read_frames", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


def yuv_frames(path: Path) -> np.ndarray:
    """All frames as raw yuv420p bytes, one row per frame."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-vsync", "0", "-f", "rawvideo",
                          "-pix_fmt", "yuv420p", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, W * H * 3 // 2)


def one_line_error(capsys, rc: int, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert rc != 0
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("vsrife ") and "error:" in lines[0], err
    for n in needles:
        assert n in lines[0], err
    return lines[0]


def test_interpolate_lossless_keeps_audio_and_source_frames(media, tmp_path, capsys):
    out = tmp_path / "out.mkv"
    rc = main(["interpolate", str(media["tiny"]), str(out), "--codec", "ffv1", "--multi", "2"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "fps" in err and "ETA" in err and "frame 12/12" in err  # progress bar
    s = probe(out)
    assert s["video"]["codec_name"] == "ffv1"
    assert s["video"]["r_frame_rate"] == "50/1"
    assert int(s["video"]["nb_read_frames"]) == 12
    assert s["audio"]["codec_name"] == "aac"  # copied from the input
    assert not (tmp_path / "out.partial.mkv").exists()
    got, src = yuv_frames(out), yuv_frames(media["tiny"])
    assert got.shape[0] == 12
    assert np.array_equal(got[0::2], src)  # source frames pass through bit-exact
    for k in range(5):  # interpolated frames are new pictures, not copies of a neighbour
        mid = got[2 * k + 1].astype(np.int16)
        assert not np.array_equal(mid, src[k]) and not np.array_equal(mid, src[k + 1])


def test_interpolate_x264_fps_settings(media, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    rc = main(["interpolate", str(media["tiny"]), str(out), "--fps", "59.94", "--crf", "30", "--preset", "ultrafast",
               "--no-audio", "-q", "--no-sc", "--dedup"])
    assert rc == 0
    assert capsys.readouterr().err == ""  # --quiet
    s = probe(out)
    assert s["video"]["codec_name"] == "h264"
    assert Fraction(s["video"]["r_frame_rate"]) == Fraction(60000, 1001)
    assert int(s["video"]["nb_read_frames"]) == -(-6 * 60000 // (1001 * 25))
    assert "audio" not in s


def test_interpolate_preview_and_slow_motion(media, tmp_path, capsys):
    out, png = tmp_path / "o.mkv", tmp_path / "sheet.png"
    rc = main(["interpolate", str(media["tiny"]), str(out), "--multi", "3", "--codec", "ffv1", "--playback-fps", "25",
               "--preview", str(png), "--preview-frame", "2"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "preview:" in err and "audio is left out" in err
    with Image.open(png) as im:
        assert im.format == "PNG" and im.width == 4 * 320 + 5 * 6  # A, two interpolated frames, B
    s = probe(out)
    assert int(s["video"]["nb_read_frames"]) == 18 and s["video"]["r_frame_rate"] == "25/1"  # 3x slow motion
    assert "audio" not in s


@pytest.mark.parametrize(("argv", "needles"), [
    (["--ffmpeg", "/nonexistent/ffmpeg"], ["ffmpeg not found", "--ffmpeg"]),
    (["--multi", "1"], ["multi must be >= 2"]),
    (["--scale", "3"], ["scale must be one of", "0.5"]),
    (["--model", "9.9"], ["model", "allowed", "4.25"]),
    (["--no-sc", "--sc-threshold", "0.2"], ["--no-sc", "--sc-threshold"]),
])
def test_interpolate_option_errors(media, tmp_path, capsys, argv, needles):
    rc = main(["interpolate", str(media["tiny"]), str(tmp_path / "o.mkv"), *argv])
    one_line_error(capsys, rc, *needles)
    assert not list(tmp_path.iterdir())


def test_interpolate_input_errors(media, tmp_path, capsys):
    rc = main(["interpolate", str(tmp_path / "missing.mp4"), str(tmp_path / "o.mkv")])
    one_line_error(capsys, rc, "does not exist")
    rc = main(["interpolate", str(media["garbage"]), str(tmp_path / "o.mkv")])
    one_line_error(capsys, rc, "cannot read input")
    rc = main(["interpolate", str(tmp_path), str(tmp_path / "o.mkv")])
    one_line_error(capsys, rc, "directory")


def test_interpolate_output_errors(media, tmp_path, capsys):
    rc = main(["interpolate", str(media["tiny"]), str(tmp_path / "no" / "such" / "dir" / "o.mkv")])
    one_line_error(capsys, rc, "does not exist")
    existing = tmp_path / "exists.mkv"
    existing.write_bytes(b"keep me")
    rc = main(["interpolate", str(media["tiny"]), str(existing)])
    one_line_error(capsys, rc, "--overwrite")
    assert existing.read_bytes() == b"keep me"
    rc = main(["interpolate", str(media["tiny"]), str(tmp_path / "noext")])
    one_line_error(capsys, rc, "extension")
    # /proc refuses new files even for root: ffmpeg fails to open it and we report that on one line
    rc = main(["interpolate", str(media["tiny"]), "/proc/vsrife-test-out.mkv", "-q", "--no-audio"])
    one_line_error(capsys, rc, "/proc")


def test_python_m_error_has_no_traceback(media, tmp_path):
    env = {**os.environ, "PATH": "/nonexistent"}
    r = subprocess.run([sys.executable, "-m", "vsrife", "interpolate", str(media["tiny"]), str(tmp_path / "o.mkv")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "ffmpeg not found" in r.stderr
    assert "Traceback" not in r.stderr


def test_stop_handler_remembers_a_swallowed_interrupt():
    from vsrife.cli.interpolate import _Stop

    stop = _Stop()
    stop.check()  # nothing requested yet
    with pytest.raises(KeyboardInterrupt):  # raised at once; a library call could swallow it ...
        stop(signal.SIGINT, None)
    with pytest.raises(KeyboardInterrupt):
        stop.check()  # ... and the encode loop still stops at the next frame


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_stops_ffmpeg_and_deletes_partial(footage, tmp_path, sig):
    src = tmp_path / "long.mkv"  # 1000 frames (bikes 4 times): far longer than the wait below on any machine
    subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", "3", "-i", str(footage / "bikes.mp4"),
                    "-vf", "scale=128:56", "-c:v", "libx264", "-preset", "ultrafast", str(src)], check=True)
    out = tmp_path / "out.mkv"
    partial = tmp_path / "out.partial.mkv"
    proc = subprocess.Popen([sys.executable, "-m", "vsrife", "interpolate", str(src), str(out), "--codec", "ffv1"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 90
        while not (partial.exists() and partial.stat().st_size > 0):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "ffmpeg never started writing"
            time.sleep(0.1)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert "interrupted after" in last and "of 2000 frames" in last and "deleted" in last, err
    assert "Traceback" not in err
    assert not out.exists() and not partial.exists()
    time.sleep(0.5)
    ps = subprocess.run(["pgrep", "-f", str(partial)], capture_output=True, text=True)
    assert ps.stdout.strip() == "", "ffmpeg is still running"


def test_info_reports_rates_padding_and_time(media, capsys):
    from vsrife.engine import Engine

    rc = main(["info", str(media["tiny"]), "--fps", "60000/1001"])
    assert rc == 0
    out = capsys.readouterr().out
    lines = dict(line.split(":", 1) for line in out.strip().splitlines())
    assert "6 frames at 25/1" in lines["source"]
    n_out = -(-6 * 60000 // (1001 * 25))
    assert f"{n_out} frames at 60000/1001" in lines["output"]
    hp, wp = Engine().padded_size(H, W)
    assert f"{W}x{H} -> {wp}x{hp}" in lines["padding"]
    assert lines["model"].strip().startswith("4.25")
    assert lines["cpu path"].strip().startswith("fast path, float32 convolutions, fused C kernels (")
    per = float(lines["time"].split("measured", 1)[1].split()[0])
    assert 0 < per < 60


def test_info_no_measure_and_bad_input(media, capsys):
    rc = main(["info", str(media["tiny"]), "--multi", "4", "--model", "3.1", "--no-measure"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "24 frames at 100/1" in out and "not measured" in out and "3.1" in out
    assert "plain model (no fast path for 3.1" in out
    installed = next(line for line in out.splitlines() if line.startswith("installed:"))
    assert f"vapoursynth-rife {vsrife.__version__} (pip install vapoursynth-rife)" in installed
    assert "core.rife.RIFE is vsrife's plugin (com.vsrife.rife)" in installed
    rc = main(["info", str(media["garbage"])])
    one_line_error(capsys, rc, "cannot read input")


def test_show_contact_sheet(media, tmp_path, capsys):
    png = tmp_path / "sheet.png"
    rc = main(["show", str(media["tiny"]), str(png), "--frame", "3", "--multi", "2", "--tile-width", "192"])
    assert rc == 0 and png.exists()
    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    pad, label = 6, 16
    tile_h = round(H * 192 / W)
    assert img.shape[1] == 3 * 192 + 4 * pad
    def tile(col: int, row: int) -> np.ndarray:
        x, y = pad + col * (192 + pad), label + pad + pad + row * (tile_h + label + pad) + label
        return img[y:y + tile_h, x:x + 192]
    flow, mask = tile(1, 1), tile(1, 2)
    sat = flow.max(-1) - flow.min(-1)
    assert sat.max() > 60  # the flow picture is coloured somewhere (bigbuckbunny moves)
    assert (mask.max(-1) == mask.min(-1)).all()  # the mask is gray
    assert mask.std() > 1  # and not flat
    rc = main(["show", str(media["tiny"]), str(tmp_path / "sheet.jpg")])
    one_line_error(capsys, rc, ".png")
    rc = main(["show", str(media["tiny"]), str(png), "--frame", "5"])
    one_line_error(capsys, rc, "--frame", "0..4")


def test_flow_colour_wheel_directions():
    wheel = visualize.color_wheel()
    assert wheel.shape == (55, 3) and wheel.min() >= 0 and wheel.max() <= 1
    assert np.allclose(wheel[0], (1, 0, 0))
    u = np.array([[1.0, -1.0, 0.0, 0.0, 0.0, 0.5, 2.0]])
    v = np.array([[0.0, 0.0, 1.0, -1.0, 0.0, 0.0, 0.0]])
    c = visualize.flow_to_color(u, v, max_radius=1.0)[0].astype(int)
    right, left, down, up, zero, half, over = c
    assert right[0] > 200 and right[1] < 30  # right: red
    assert left[0] < 30 and left[1] > 150 and left[2] > 200  # left: cyan
    assert down[0] > 200 and down[1] > 100 and down[2] < 30  # down: yellow/orange
    assert up[2] > 200 and up[1] < 30  # up: blue/violet
    assert (zero == 255).all()  # no motion: white
    assert (half > right).sum() >= 2 and half[0] == 255  # shorter: paler, same hue
    assert np.allclose(over, np.round(right * 0.75), atol=1)  # beyond max_radius: darker
    legend = visualize.wheel_legend(33)
    assert (legend[16, 16] == 255).all() and legend[16, 32, 0] > 200  # white centre, red to the right


def test_version_names_the_distribution(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"vsrife {vsrife.__version__} (distribution vapoursynth-rife)"


def test_every_command_help_has_examples(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"interpolate", "info", "show", "models"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as e:
            main([name, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert "examples:" in out and f"vsrife {name}" in out, name
