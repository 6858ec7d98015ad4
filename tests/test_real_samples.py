"""Real CHEC samples: VegetacionExistente.csv normalisation + ingest, red_nsa graph snapping."""

from __future__ import annotations

import json

import pytest

from gridcrit.cli import run
from gridcrit.data.real import load_network, load_vegetation, parse_wkt_coords
from gridcrit.data.store import connect


@pytest.fixture(scope="module")
def vegetation(shared_data):
    return load_vegetation(shared_data / "chec" / "VegetacionExistente.csv")


def test_vegetation_normalisation(vegetation):
    frame, rep = vegetation
    assert len(frame) == 18482
    assert set(frame["NIVEL_RIES"].dropna()) == {"Alto", "Medio", "Bajo"}
    assert (
        rep["NIVEL_RIES_after"]["Alto"]
        == rep["NIVEL_RIES_before"]["Alto"] + rep["NIVEL_RIES_before"]["Inminente"]
    )
    assert set(frame["LADO_RED"].dropna()) == {
        "Debajo",
        "Ambos Lados",
        "Derecha",
        "Izquierda",
        "Encima",
        "Un lado",
    }
    assert set(frame["TIPO_INTER"].dropna()) == {"Poda", "Tala", "Rocería"}
    assert not frame["TIPO_INTER"].dropna().str.startswith("Seleccione").any()
    assert frame["DAP_ESTIM"].max() <= 300 and frame["LONG_INTER"].max() <= 300
    assert rep["outliers_to_missing"]["LONG_INTER"]["values"][-1] == 158912
    # nothing else was touched: the 25 cm median trunk and 8 m median length survive
    assert frame["DAP_ESTIM"].median() == 25 and frame["LONG_INTER"].median() == 8


def test_vegetation_cli_ingest_is_idempotent(shared_data, tmp_path, capsys):
    store = tmp_path / "s.duckdb"
    csv = shared_data / "chec" / "VegetacionExistente.csv"
    assert run(["data", "load-vegetation", str(csv), "--store", str(store), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows_added"] == 18482 and out["files"][0]["table"] == "vegetacion"
    assert run(["data", "load-vegetation", str(csv), "--store", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows_added"] == 0
    con = connect(store, read_only=True)
    risk = dict(con.execute("SELECT NIVEL_RIES, count(*) FROM vegetacion GROUP BY 1").fetchall())
    con.close()
    assert risk == {"Alto": 10733, "Medio": 4847, "Bajo": 2747, None: 155}


def test_wkt_parse():
    assert parse_wkt_coords("LINESTRING Z (-74.9 5.6 10, -74.8 5.7 10)").tolist() == [
        [-74.9, 5.6],
        [-74.8, 5.7],
    ]
    assert parse_wkt_coords("POINT Z (-75.0 5.48 5)").tolist() == [[-75.0, 5.48]]


def test_network_snapping_joins_fragments(shared_data):
    net = load_network(shared_data / "chec" / "red_nsa", tolerance_m=1.0)
    r = net.report
    assert r["segments"] == 1374
    assert r["components_by_node_ids"] == 182  # 178 when the placeholder id "0" counted as one node
    assert r["components_after_snapping"] <= 6  # six circuits at most, some share a substation bus
    assert net.graph.number_of_edges() <= 1374 and net.graph.number_of_nodes() == r["nodes_after_snapping"]
    # every supports/transformer point lies on (within 5 m of) a segment
    assert r["points"]["apoyo"]["within_5m"] >= 0.99 and r["points"]["transformador"]["within_5m"] >= 0.99
    # a tighter tolerance cannot merge more endpoints
    tight = load_network(shared_data / "chec" / "red_nsa", tolerance_m=0.01).report
    assert tight["nodes_after_snapping"] >= r["nodes_after_snapping"]
