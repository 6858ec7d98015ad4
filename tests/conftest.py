"""Shared fixtures. Threads are pinned to 1: tests run on 2-core machines next to other work."""

from __future__ import annotations

import os

os.environ.setdefault("GRIDCRIT_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_collection_modifyitems(config, items):
    """Tests marked ``long`` first: with two test processes (pytest-xdist hands tests out in collection
    order) a minutes-long test started last would leave the other process idle while it runs."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)  # stable: order kept otherwise


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (read in place, never copied). Skips if this checkout has no shared/."""
    if not SHARED.exists():
        pytest.skip("../shared/data not present")
    return SHARED


@pytest.fixture(scope="session")
def tiny_twin(tmp_path_factory) -> Path:
    """A tiny synthetic utility (export files + truth.json), generated once per test session."""
    from gridcrit.data.synth import synthesize

    out = tmp_path_factory.mktemp("tiny_twin")
    synthesize(out, scale="tiny", seed=0)
    return out


@pytest.fixture(scope="session")
def tiny_store(tiny_twin, tmp_path_factory) -> Path:
    """A store with the tiny twin ingested. Treat as read-only; copy it to modify."""
    from gridcrit.data.ingest import ingest

    store = tmp_path_factory.mktemp("tiny_store") / "gridcrit.duckdb"
    ingest([tiny_twin], store)
    return store
