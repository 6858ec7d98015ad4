"""A read of the registry while another process writes the store says so (it fell back to opening the
store for writing and reported that it could not write)."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from gridcrit.errors import GridcritError
from gridcrit.registry.registry import Registry


def test_reading_the_registry_of_a_store_another_process_writes(tmp_path):
    s = tmp_path / "x.duckdb"
    duckdb.connect(str(s)).close()
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('ok', flush=True); time.sleep(60)", str(s)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(GridcritError) as ei:
            Registry(s).list()
        msg = str(ei.value)
        assert "for writing" not in msg and f"PID {holder.pid}" in msg and "is writing it" in msg
        assert "lo está escribiendo" in ei.value.es
    finally:
        holder.kill()
        holder.wait()
