# vsrife (PyPI: vapoursynth-rife) developer tasks.  `make test` is what CI runs (.ci/run).
#   make setup  - create .venv (Python 3.12), pip install -e '.[test,bench,cluster]', ffmpeg + mkvtoolnix +
#                 mingw-w64 (apt, as root), fetch model 4.25 and the test footage
#   make test   - the test suite;   make demo - out/demo_2x.mkv;   make bench
#   make lint   - ruff, mypy (pyproject.toml) and the layering contract (tools/check_layers.py)
#   make gpu-check - the CUDA tests, a CUDA benchmark and frame-transfer timings (< 5 min; one line without CUDA)
#   make wheel  - dist/: the sdist and the manylinux wheel (auditwheel-checked); see docs/release.md
#   make wheel-windows - dist/: the win_amd64 wheel, cross-compiled with mingw-w64

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

VENV := .venv
PY := $(VENV)/bin/python
# The installed shim is the marker: re-install when an input changes or when vsrife was uninstalled.
MARKER := $(VENV)/lib/python3.12/site-packages/vapoursynth/plugins/librife_vsrife.so
INSTALL_INPUTS := setup.py pyproject.toml plugin/rife_shim.c vsrife/plugin/signature.py vsrife/nn/csrc/fused.c

# First working Python 3.12: on PATH (a pyenv shim may exist without working), then pyenv installs.
find_python = $(shell for p in $$(command -v python3.12 || true) /root/.pyenv/versions/3.12*/bin/python3.12 \
	$(HOME)/.pyenv/versions/3.12*/bin/python3.12; do \
	if [ -x "$$p" ] && "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then \
	echo "$$p"; break; fi; done)

.PHONY: setup test demo bench lint gpu-check wheel wheel-windows print-python

$(PY):
	@py="$(find_python)"; \
	if [ -z "$$py" ]; then echo "make setup: no Python 3.12 found (PATH, /root/.pyenv/versions/3.12*, ~/.pyenv/versions/3.12*)" >&2; exit 1; fi; \
	echo "creating $(VENV) with $$py"; "$$py" -m venv $(VENV)

$(MARKER): $(INSTALL_INPUTS) | $(PY)
	@# an install from before the rename (distribution "vsrife", the same files) would shadow this one
	$(PY) -m pip uninstall -y -q vsrife 2>/dev/null || true
	rm -rf vsrife.egg-info
	$(PY) -m pip install -e '.[test,bench,cluster]'
	$(VENV)/bin/vapoursynth config
	test -f $@ && touch $@

setup: $(MARKER)
	@missing=""; command -v ffmpeg >/dev/null || missing="ffmpeg"; \
	command -v mkvmerge >/dev/null || missing="$$missing mkvtoolnix"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y $$missing; \
		else echo "make setup: missing$$missing and we are not root; install: $$missing" >&2; exit 1; fi; \
	fi
	@# mingw-w64 cross-compiles the Windows wheel (make wheel-windows; its test skips without it)
	@if ! command -v x86_64-w64-mingw32-gcc >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y gcc-mingw-w64-x86-64; \
		else echo "make setup: note: no mingw-w64 (apt-get install gcc-mingw-w64-x86-64); Windows wheel tests skip" >&2; fi; \
	fi
	$(PY) -m vsrife models fetch 4.25 footage

test: setup
	$(PY) -m pytest -q tests

out/demo_2x.mkv: examples/demo.vpy $(MARKER)
	mkdir -p out
	$(VENV)/bin/vspipe -c y4m examples/demo.vpy - | ffmpeg -y -v error -f yuv4mpegpipe -i - -c:v libx264 -crf 18 \
		-pix_fmt yuv420p $@.tmp.mkv
	mv $@.tmp.mkv $@
	ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=width,height,r_frame_rate,nb_read_frames \
		-of default=noprint_wrappers=1 $@

demo: setup
	@$(MAKE) --no-print-directory out/demo_2x.mkv

bench: setup
	$(PY) -m vsrife bench

# No setup step: a GPU machine may be offline.  The project venv when there is one, else python3 on PATH.
GPU_PY := $(if $(wildcard $(PY)),$(PY),python3)

gpu-check:
	@mkdir -p out
	$(GPU_PY) -m vsrife.dev.gpucheck --out out/gpu-check.md

wheel: $(MARKER)
	$(PY) tools/wheel.py linux --out dist

wheel-windows: $(MARKER)
	$(PY) tools/wheel.py windows --out dist

# the Python 3.12 that `make setup` uses (tests create fresh venvs with it)
print-python:
	@echo "$(find_python)"

lint: $(MARKER)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) tools/check_layers.py
