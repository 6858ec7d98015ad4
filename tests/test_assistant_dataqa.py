"""Data questions: rule parser, SQL validator, read-only execution, limits, injection attempts."""

from __future__ import annotations

import pytest

from gridcrit.assistant import Assistant
from gridcrit.assistant.dataqa import (
    UnsafeSQLError,
    answer_data_question,
    is_data_question,
    open_readonly,
    run_select,
    validate_sql,
)
from gridcrit.assistant.sample import make_sample_store
from gridcrit.data.store import connect, table_counts
from gridcrit.errors import GridcritError, ValidationError


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_sample_store(tmp_path_factory.mktemp("dq") / "s.duckdb")


def _counts(store):
    con = connect(store, read_only=True)
    try:
        return table_counts(con)
    finally:
        con.close()


def _scalar(store, sql):
    con = connect(store, read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_count_by_circuit_and_year(store):
    a = answer_data_question("¿cuántas interrupciones tuvo el circuito NSA23L14 en 2023?", store)
    want = _scalar(store, "SELECT count(DISTINCT evento) FROM interrupciones "
                          "WHERE cto_equi_ope='NSA23L14' AND year(inicio)=2023")
    assert a.rows == [[want]] and want > 0
    assert "?" in a.sql and "NSA23L14" not in a.sql  # values are parameters, never pasted into SQL
    assert str(want) in a.text


def test_top_municipality_saifi(store):
    """SAIFI is the IEEE 1366 index of `gridcrit indices --by municipality` (the municipality's own
    customers), not the sum of the per-row SAIFI column (a contribution to the system index)."""
    from gridcrit.reliability.indices import compute_indices

    a = answer_data_question("¿qué municipio tuvo el mayor SAIFI en 2022?", store)
    fr = compute_indices(store, by="municipality", period="year").frame
    y = fr[fr["period"] == "2022"]
    # the sample store has customers per transformer only in its last snapshot: no municipality base in
    # 2022, so the answer is the municipality's contribution to the system SAIFI (sustained rows)
    assert y["SAIFI"].isna().all()
    best = y.sort_values("SAIFI_contrib", ascending=False).iloc[0]
    assert a.columns == ["municipio", "valor"] and a.rows[0][0] == best["group"]
    assert a.rows[0][1] == pytest.approx(best["SAIFI_contrib"])
    assert "contribución" in a.text and "SAIFI_contrib" in a.text


@pytest.mark.parametrize(
    "question, group, filters",
    [
        ("tendencia anual de interrupciones por vegetación en Manizales", ["anio"], {"municipio": "MANIZALES", "causa_cod": "27"}),
        ("los 3 circuitos con más usuarios afectados en 2021", ["circuito"], {"anio": 2021}),
        ("evolución mensual de las interrupciones en Dosquebradas en 2022", ["anio", "mes"], {"municipio": "DOSQUEBRADAS", "anio": 2022}),
        ("número de interrupciones por tipo de equipo en 2023", ["tipo_equi_ope"], {"anio": 2023}),
        ("¿cuántas interrupciones no programadas tuvo el circuito NSA23L14 en 2022?", [], {"tipo_causa": "NP", "circuito": "NSA23L14", "anio": 2022}),
    ],
)
def test_parser(store, question, group, filters):
    a = answer_data_question(question, store)
    assert a.query["group"] == group
    assert a.query["filters"] == filters


def test_routing_data_vs_regulation():
    assert is_data_question("¿cuántas interrupciones tuvo el circuito NSA23L14 en 2023?")
    assert is_data_question("¿qué municipio tuvo el mayor SAIFI en 2022?")
    assert not is_data_question("¿qué distancia mínima exige el RETIE entre un conductor y un edificio?")
    assert not is_data_question("¿cómo se protegen los circuitos de emergencia?")


def test_unparseable_question_has_clear_message(store):
    with pytest.raises(ValidationError, match="no entendí"):
        answer_data_question("¿cuántas interrupciones hubo?", store)


@pytest.mark.parametrize(
    "sql, why",
    [
        ("DROP TABLE interrupciones", "only SELECT"),
        ("DELETE FROM interrupciones", "only SELECT"),
        ("INSERT INTO interrupciones SELECT * FROM interrupciones", "only SELECT"),
        ("SELECT 1; DROP TABLE interrupciones", "exactly one statement"),
        ("SELECT * FROM read_csv('/etc/passwd')", "table functions"),
        ("SELECT * FROM _corpus_units", "not allow-listed"),
        ("SELECT * FROM _loads", "not allow-listed"),
        ("SELECT * FROM information_schema.tables", "qualified"),
        ("SELECT * FROM duckdb_tables()", "table functions"),
        ("SELECT getenv('HOME')", "functions not allowed"),
        ("ATTACH '/tmp/x.duckdb' AS x", "only SELECT"),
        ("COPY interrupciones TO '/tmp/x.csv'", "only SELECT"),
        ("PRAGMA show_tables", "only SELECT"),
        ("SELECT * FROM interrupciones WHERE evento IN (SELECT evento FROM _assistant_feedback)", "not allow-listed"),
        ("", "empty"),
    ],
)
def test_validator_rejects(store, sql, why):
    con = open_readonly(store)
    try:
        with pytest.raises(UnsafeSQLError, match=why):
            validate_sql(con, sql)
    finally:
        con.close()


def test_validator_accepts_ctes_and_views(store):
    con = open_readonly(store)
    try:
        sql = "WITH x AS (SELECT circuito, count(*) n FROM v_eventos GROUP BY 1) SELECT * FROM x ORDER BY n DESC"
        assert validate_sql(con, sql) == sql
        res = run_select(con, sql, max_rows=2)
        assert len(res.rows) == 2 and res.truncated
    finally:
        con.close()


def test_time_limit_interrupts(store):
    con = open_readonly(store)
    try:
        slow = ("SELECT count(*) FROM interrupciones a, interrupciones b, interrupciones c, interrupciones d "
                "WHERE a.duracion_h + b.duracion_h + c.duracion_h + d.duracion_h > -1")
        with pytest.raises(GridcritError, match="time limit"):
            run_select(con, slow, timeout_s=0.3)
    finally:
        con.close()


def test_injection_attempts_change_nothing(store):
    before = _counts(store)
    ast = Assistant(store)
    a = ast.ask("¿cuántas interrupciones tuvo el circuito NSA23L14'; DROP TABLE interrupciones; -- en 2023?")
    ref = ast.ask("¿cuántas interrupciones tuvo el circuito NSA23L14 en 2023?")
    assert a.kind == "data" and a.rows == ref.rows
    with pytest.raises(ValidationError):
        ast.ask("x" * 10_000)
    with pytest.raises(ValidationError):
        ast.ask("   ")
    assert _counts(store) == before


class _EvilLLM:
    """An LLM that proposes SQL (safe or not) — stands in for a model behind the openai backend."""

    def __init__(self, sql):
        self.sql = sql

    def complete(self, messages):
        return f"```sql\n{self.sql}\n```"


def test_llm_sql_validated_before_running(store):
    q = "¿cuántas interrupciones tuvo el circuito NSA23L14 en 2023?"
    rules = answer_data_question(q, store)
    good = answer_data_question(q, store, llm=_EvilLLM(
        "SELECT count(DISTINCT evento) FROM v_eventos WHERE circuito = 'NSA23L14' AND anio = 2023"))
    assert good.source == "llm" and good.rows == rules.rows
    before = _counts(store)
    bad = answer_data_question(q, store, llm=_EvilLLM("DELETE FROM interrupciones"))
    assert bad.source == "llm->rules" and bad.rows == rules.rows and "not used" in bad.notes[0]
    assert _counts(store) == before



def test_questions_on_the_synthetic_twin(tiny_store):
    """Questions built from the twin's own circuits/municipalities, checked against independent SQL."""
    from gridcrit.assistant.evaluate import evaluate
    from gridcrit.assistant.twin_questions import twin_items

    items = twin_items(tiny_store)
    rep = evaluate(items, Assistant(tiny_store))
    assert rep["summary"]["data_exact"] == 1.0, [i for i in rep["items"] if not i.get("exact")]
