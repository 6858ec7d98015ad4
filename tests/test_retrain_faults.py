"""Faults: a retrain killed with SIGKILL mid-way (while training, and inside the registry transaction
after the artefacts were moved into place) leaves the registry unchanged and the champion serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import numpy as np
import pytest

from _registry_fakes import fake_dataset, fake_ingest, make_rows, write_export
from gridcrit.registry.native import NativeGBDT
from gridcrit.registry.registry import Registry
from gridcrit.registry.retrain import retrain, train_and_register

TESTS = Path(__file__).resolve().parent

SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from _registry_fakes import fake_dataset, fake_ingest
    from gridcrit.registry.registry import Registry
    from gridcrit.registry.retrain import retrain
    store, new_dir, marker, where = sys.argv[1:5]

    def hang():
        Path(marker).write_text("here")
        time.sleep(120)

    def on_step(text):
        if where == "training" and text.startswith("fine-tuning"):
            hang()

    if where == "commit":
        original = Registry._promote
        def slow_promote(self, con, version, reason):
            out = original(self, con, version, reason)  # artefacts renamed into place, rows written, no commit
            hang()
            return out
        Registry._promote = slow_promote
    retrain(store, [new_dir], margin=0.0, ingest_fn=fake_ingest, dataset_fn=fake_dataset, on_step=on_step)
""")


def _dump(store: Path):
    con = duckdb.connect(str(store), read_only=True)
    try:
        return (con.execute("SELECT * FROM _registry_models ORDER BY version").fetchall(),
                con.execute("SELECT * FROM _registry_events ORDER BY event_id").fetchall())
    finally:
        con.close()


@pytest.mark.parametrize("where", ["training", "commit"])
def test_retrain_killed_midway(tmp_path, where):
    store = tmp_path / "g.duckdb"
    fake_ingest([write_export(make_rows("2019-01", "2020-12"), tmp_path / "base")], store)
    v1 = train_and_register(store, NativeGBDT(n_estimators=40, max_depth=3), name="xgboost", task="regression",
                            target="saifi", dataset_fn=fake_dataset)
    new_dir = tmp_path / "new"
    write_export(make_rows("2021-01", "2021-06", w_veg=2.0), new_dir)
    X = fake_dataset(store).frame[["veg", "age", "frailty", "lightning"]]
    expected = Registry(store).load("champion").model.predict(X)
    before = _dump(store)

    script = tmp_path / "run_retrain.py"
    script.write_text(SCRIPT)
    marker = tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script), str(store), str(new_dir), str(marker), where], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 90
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.time() < deadline, "retrain never reached the kill point"
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    assert _dump(store) == before  # registry exactly as before
    served = Registry(store).load("champion")
    assert served.version == v1 and served.warning is None
    np.testing.assert_array_equal(served.model.predict(X), expected)
    if where == "commit":  # the artefact folder had been moved into place: an orphan no row points to
        assert (Registry(store).root / "v0002").exists()

    r = retrain(store, [new_dir], margin=0.0, ingest_fn=fake_ingest, dataset_fn=fake_dataset)  # rerun completes
    assert r.challenger == "v0002" and r.promoted
    assert Registry(store).verify("v0002") == []
