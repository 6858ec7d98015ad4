"""Registry: register / list / show / promote / rollback / delete / load with checksums."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from gridcrit.errors import GridcritError, NotFoundError
from gridcrit.registry.native import NativeGBDT
from gridcrit.registry.registry import IntegrityError, Registry


def _data(seed: int = 0, n: int = 200):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.integers(0, 3, n).astype(float)})
    y = 2 * X["a"] - X["b"] + rng.normal(scale=0.1, size=n)
    return X, y


def _model(library="xgboost", seed=0, n=20):
    X, y = _data(seed)
    return NativeGBDT(library=library, n_estimators=n, seed=seed).fit(X, y)


@pytest.fixture()
def reg(tmp_path):
    return Registry(tmp_path / "store.duckdb")


def _table_dump(store):
    con = duckdb.connect(str(store), read_only=True)
    try:
        return (con.execute("SELECT * FROM _registry_models ORDER BY version").fetchall(),
                con.execute("SELECT * FROM _registry_events ORDER BY event_id").fetchall())
    finally:
        con.close()


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_register_load_roundtrip(reg, library):
    m = _model(library)
    v = reg.register(m, name=library, task="regression", target="saifi", metrics={"mae": 0.1},
                     feature_schema={"columns": ["a", "b", "c"]}, data_fingerprint={"rows": 200})
    assert v == "v0001"
    meta = reg.show(v)
    assert meta["status"] == "candidate" and meta["slot"] == "transformer/month/saifi"
    assert meta["metrics"] == {"mae": 0.1}
    assert "model.json" in meta["checksums"] and len(meta["checksums"]) == 2
    assert meta["code_version"]["gridcrit"]
    X, _ = _data(1)
    loaded = reg.load(v)
    np.testing.assert_array_equal(loaded.model.predict(X), m.predict(X))
    assert loaded.version == v and loaded.warning is None


def test_register_from_directory_and_missing_model_json(reg, tmp_path):
    d = tmp_path / "m"
    _model().save(d)
    v = reg.register(d, name="xgboost", task="regression", target="saifi")
    assert reg.verify(v) == []
    with pytest.raises(NotFoundError, match=r"no model\.json"):
        reg.register(tmp_path, name="x", task="regression", target="saifi")


def test_promote_rollback_stack_and_statuses(reg):
    v1 = reg.register(_model(seed=1), name="xgboost", task="regression", target="saifi")
    v2 = reg.register(_model(seed=2), name="xgboost", task="regression", target="saifi")
    v3 = reg.register(_model(seed=3), name="xgboost", task="regression", target="saifi")
    with pytest.raises(NotFoundError, match="no champion"):
        reg.load("champion")
    reg.promote(v1)
    reg.promote(v2)
    out = reg.promote(v3)
    assert out == {"slot": "transformer/month/saifi", "champion": v3, "previous": v2}
    st = {m["version"]: m["status"] for m in reg.list()}
    assert st == {v1: "retired", v2: "retired", v3: "champion"}
    assert reg.rollback()["champion"] == v2
    assert reg.champion()["version"] == v2
    assert reg.rollback()["champion"] == v1
    with pytest.raises(GridcritError, match="no previous champion"):
        reg.rollback()
    assert {m["version"]: m["status"] for m in reg.list()}[v1] == "champion"
    actions = [e["action"] for e in reg.history()]
    assert actions.count("promote") == 3 and actions.count("rollback") == 2


def test_rollback_restores_identical_predictions(reg):
    X, _ = _data(5)
    v1 = reg.register(_model(seed=1), name="xgboost", task="regression", target="saifi", promote=True)
    before = reg.load("champion").model.predict(X)
    v2 = reg.register(_model(seed=2, n=40), name="xgboost", task="regression", target="saifi", promote=True)
    assert reg.load("champion").version == v2
    assert not np.array_equal(reg.load("champion").model.predict(X), before)
    reg.rollback()
    served = reg.load("champion")
    assert served.version == v1
    np.testing.assert_array_equal(served.model.predict(X), before)


def test_delete_rules(reg):
    v1 = reg.register(_model(seed=1), name="xgboost", task="regression", target="saifi", promote=True)
    v2 = reg.register(_model(seed=2), name="xgboost", task="regression", target="saifi", parent=v1)
    with pytest.raises(GridcritError, match="is the champion"):
        reg.delete(v1)
    out = reg.delete(v2)
    assert out["deleted"] == v2
    assert not (reg.root / v2).exists()
    with pytest.raises(NotFoundError, match="v0002"):
        reg.show(v2)
    # a deleted version number is never reused
    assert reg.register(_model(seed=3), name="xgboost", task="regression", target="saifi") == "v0003"
    assert [e["action"] for e in reg.history(v2)] == ["register", "delete"]


def test_parent_must_exist(reg):
    with pytest.raises(NotFoundError, match="v0042"):
        reg.register(_model(), name="xgboost", task="regression", target="saifi", parent="v0042")
    assert reg.list() == []
    assert [p.name for p in reg.root.iterdir()] == []  # no artefact left behind


def test_corrupted_champion_falls_back_and_says_so(reg):
    X, _ = _data(7)
    v1 = reg.register(_model(seed=1), name="xgboost", task="regression", target="saifi", promote=True)
    expected = reg.load(v1).model.predict(X)
    v2 = reg.register(_model(seed=2), name="xgboost", task="regression", target="saifi", promote=True)
    f = reg.root / v2 / "booster.json"
    f.write_text(f.read_text().replace("1", "2", 5))
    before = _table_dump(reg.store)
    with pytest.raises(IntegrityError, match=r"booster\.json of v0002 is corrupted"):
        reg.load(v2)
    with pytest.raises(IntegrityError, match="corrupted"):
        reg.load("champion", fallback=False)
    served = reg.load("champion")
    assert served.version == v1 and "serving previous champion v0001" in served.warning
    np.testing.assert_array_equal(served.model.predict(X), expected)
    assert _table_dump(reg.store) == before  # loading (even with fallback) changes nothing
    assert reg.rollback()["champion"] == v1
    with pytest.raises(IntegrityError, match="refusing to promote"):
        reg.promote(v2)
    assert reg.champion()["version"] == v1


def test_corrupted_only_champion_refuses(reg):
    v1 = reg.register(_model(seed=1), name="xgboost", task="regression", target="saifi", promote=True)
    (reg.root / v1 / "model.json").unlink()
    with pytest.raises(IntegrityError, match=r"missing.*no intact previous champion"):
        reg.load("champion")


def test_failed_transaction_leaves_registry_unchanged(reg, monkeypatch):
    v1 = reg.register(_model(seed=1), name="xgboost", task="regression", target="saifi", promote=True)
    v2 = reg.register(_model(seed=2), name="xgboost", task="regression", target="saifi")
    before = _table_dump(reg.store)

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Registry, "_sync_status", boom)
    with pytest.raises(RuntimeError):
        reg.register(_model(seed=3), name="xgboost", task="regression", target="saifi", promote=True)
    with pytest.raises(RuntimeError):
        reg.promote(v2)
    monkeypatch.undo()
    assert _table_dump(reg.store) == before
    assert sorted(p.name for p in reg.root.iterdir()) == [v1, v2]


def test_orphan_folder_is_cleaned(reg):
    reg.register(_model(seed=1), name="xgboost", task="regression", target="saifi")
    (reg.root / "v0002").mkdir()
    (reg.root / "v0002" / "model.json").write_text(json.dumps({}))
    v = reg.register(_model(seed=2), name="xgboost", task="regression", target="saifi")
    assert v == "v0002" and reg.verify(v) == []


def test_slots_are_separate(reg):
    a = reg.register(_model(seed=1), name="xgboost", task="regression", target="saifi", promote=True)
    b = reg.register(_model(seed=2), name="xgboost", task="regression", target="saidi", promote=True)
    assert {m["status"] for m in reg.list()} == {"champion"}
    with pytest.raises(GridcritError, match="several model slots"):
        reg.load("champion")
    assert reg.load("champion", slot="transformer/month/saidi").version == b
    assert reg.champion("transformer/month/saifi")["version"] == a
