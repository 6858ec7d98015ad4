"""Small stand-ins for ingest and build_dataset used by the registry/retrain tests.

They follow the contracts in TEAM.md (atomic ingest that records file hashes in ``_loads``; a dataset
object with ``frame``, ``feature_columns``, ``target_columns``) but on a tiny asset x month table, so
the retrain logic can be tested in seconds and without depending on other stages.

Data: 80 assets, monthly. y_saifi = exp(0.6*veg*w_veg + 0.02*age + 0.5*frailty)/100 with noise.
``w_veg`` is 1 in the base regime; the "rainy" regime doubles it and raises vegetation exposure.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gridcrit.data.store import connect
from gridcrit.errors import ValidationError

FEATURES = ["veg", "age", "frailty", "lightning"]


def make_rows(start: str, end: str, *, w_veg: float = 1.0, veg_shift: float = 0.0, seed: int = 0,
              n_assets: int = 80) -> pd.DataFrame:
    net = np.random.default_rng(0)  # the same network whatever the window
    age = net.uniform(0, 40, n_assets)
    frailty = net.normal(0, 1, n_assets)
    veg_base = net.gamma(2.0, 1.0, n_assets)
    rng = np.random.default_rng(seed + int(pd.Period(start, "M").ordinal))
    rows = []
    for p in pd.period_range(start, end, freq="M"):
        veg = veg_base + veg_shift + rng.normal(0, 0.3, n_assets)
        light = rng.gamma(1.0, 1.0, n_assets)
        lam = np.exp(0.6 * veg * w_veg + 0.02 * (age + p.ordinal % 12) + 0.5 * frailty + 0.1 * light) / 100
        y = rng.gamma(2.0, lam / 2.0)
        rows.append(pd.DataFrame({"asset_id": [f"T{i:03d}" for i in range(n_assets)], "period": str(p),
                                  "veg": veg, "age": age + p.ordinal / 12, "frailty": frailty, "lightning": light,
                                  "y_saifi": y}))
    df = pd.concat(rows, ignore_index=True)
    df["y_risk"] = pd.cut(df["y_saifi"], [-1, 0.05, 0.2, 1e9], labels=["Bajo", "Medio", "Alto"]).astype(str)
    return df


def write_export(df: pd.DataFrame, directory: Path, name: str = "fake_rows.csv") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    p = directory / name
    df.to_csv(p, index=False)
    return p


def fake_ingest(paths: list[Path], store: Path, progress: bool = False) -> dict:
    """Validate every file, then load all of them in one transaction (or nothing)."""
    frames = []
    for f in paths:
        df = pd.read_csv(f)
        bad = df.index[df["y_saifi"] < 0]
        if len(bad):
            raise ValidationError(f"{f}:{int(bad[0]) + 2}:y_saifi: negative value {df.loc[bad[0], 'y_saifi']}",
                                  [f"{f}:{int(r) + 2}:y_saifi: negative" for r in bad])
        frames.append((f, df))
    con = connect(store)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE TABLE IF NOT EXISTS _fake_rows (asset_id VARCHAR, period VARCHAR, veg DOUBLE, "
                    "age DOUBLE, frailty DOUBLE, lightning DOUBLE, y_saifi DOUBLE, y_risk VARCHAR)")
        added = 0
        for f, df in frames:
            sha = hashlib.sha256(f.read_bytes()).hexdigest()
            if con.execute("SELECT count(*) FROM _loads WHERE sha256 = ?", (sha,)).fetchall()[0][0]:
                continue
            con.register("incoming", df)
            con.execute("INSERT INTO _fake_rows SELECT asset_id, period, veg, age, frailty, lightning, y_saifi, "
                        "y_risk FROM incoming")
            con.unregister("incoming")
            con.execute("INSERT INTO _loads VALUES (1, ?, ?, '_fake_rows', ?, ?, now())", (str(f), sha, len(df), len(df)))
            added += len(df)
        con.execute("COMMIT")
        return {"rows_added": added, "files": [str(f) for f, _ in frames]}
    finally:
        con.close()


@dataclass
class FakeDataset:
    frame: pd.DataFrame
    feature_columns: list[str]
    target_columns: list[str]


def fake_dataset(store: Path, level: str = "transformer", period: str = "month", end: str | None = None) -> FakeDataset:
    """The fake rows; an ``end`` after them adds that period with the last period's features and no
    targets (as build_dataset does for the period after the events)."""
    con = connect(store, read_only=True)
    try:
        df = con.execute("SELECT * FROM _fake_rows ORDER BY period, asset_id").df()
    finally:
        con.close()
    if end is not None and end > df["period"].max():
        nxt = df[df["period"] == df["period"].max()].assign(period=end, y_saifi=np.nan, y_risk=None)
        df = pd.concat([df, nxt], ignore_index=True)
    return FakeDataset(df, list(FEATURES), ["y_saifi", "y_risk"])
