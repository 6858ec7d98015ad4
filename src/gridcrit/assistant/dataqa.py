"""Data questions in Spanish → parameterised, validated, read-only SQL over allow-listed tables/views.

    question ─► DataQuery (rule parser: metric, filters, group, top-k, trend) ─► SQL + params
             └► (LLM backend) proposed SQL ─┐
                                            ├─► validate_sql: one SELECT, only allow-listed tables/views,
                                            │   no table functions / file readers / system catalogs
                                            └─► run_select: read-only connection, external access off,
                                                row limit, time limit (DuckDB interrupt)

Nothing here evaluates or executes generated code; SQL text is only ever run after validation on a
read-only connection. The view ``v_eventos`` adds to ``interrupciones`` the year/month of ``inicio``,
the circuit (``cto_equi_ope``, else the asset's ``FPARENT``), the municipality/department of the
operated asset (latest snapshot of ``trafos``/``switches``/``redmt`` with ``CODE = equipo_ope``) and the
CREG cause code (``causa_cod``; the export has both '30.0' and descriptions).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gridcrit.assistant.retrieval import fold
from gridcrit.data.schema import CAUSE_CODES, TABLES
from gridcrit.data.store import connect
from gridcrit.errors import GridcritError, NotFoundError, ValidationError
from gridcrit.reliability.indices import MOMENTARY_H

MAX_ROWS = 1000
TIMEOUT_S = 5.0
VIEWS = ("v_activos", "v_eventos")
ALLOWED_TABLES = frozenset(TABLES) | frozenset(VIEWS)
_DENY_FUNCS = re.compile(
    r"^(read_|parquet_|sniff_|glob$|getenv$|query$|query_table$|pragma_|duckdb_|current_setting$|"
    r"json_serialize_sql$|load_|install_|iceberg_|delta_|sqlite_|postgres_|mysql_|http|s3)",
    re.IGNORECASE,
)


class UnsafeSQLError(ValidationError):
    """SQL rejected by the validator (not a single read-only SELECT over allow-listed tables)."""


def _cause_case(col: str) -> str:
    whens = " ".join(
        f"WHEN lower({col}) = '{fold(desc).replace(chr(39), '')}' THEN '{code}'"
        for code, desc in CAUSE_CODES.items()
    )
    return (
        f"CASE WHEN regexp_matches(trim({col}), '^[0-9]+(\\.0+)?$') THEN split_part(trim({col}), '.', 1) "
        f"{whens.replace('lower(' + col + ')', 'strip_accents(lower(trim(' + col + ')))')} ELSE {col} END"
    )


def view_sql() -> list[str]:
    """CREATE TEMP VIEW statements of the allow-listed views (run by us, on the read-only connection)."""
    names = ", ".join(f"('{c}', '{d}')" for c, d in CAUSE_CODES.items())
    return [
        """CREATE OR REPLACE TEMP VIEW v_activos AS
           SELECT CODE, arg_max(tipo, FECHA) AS tipo_activo, arg_max(FPARENT, FECHA) AS FPARENT,
                  arg_max(MUN, FECHA) AS MUN, arg_max(DEP, FECHA) AS DEP
           FROM (SELECT CODE, 'transformador' AS tipo, FPARENT, MUN, DEP, FECHA FROM trafos
                 UNION ALL SELECT CODE, 'interruptor', FPARENT, MUN, DEP, FECHA FROM switches
                 UNION ALL SELECT CODE, 'tramo de linea', FPARENT, MUN, DEP, FECHA FROM redmt)
           GROUP BY CODE""",
        f"""CREATE OR REPLACE TEMP VIEW v_eventos AS
           SELECT i.*, year(i.inicio) AS anio, month(i.inicio) AS mes,
                  coalesce(i.cto_equi_ope, a.FPARENT) AS circuito, a.MUN AS municipio, a.DEP AS departamento,
                  {_cause_case('i.causa')} AS causa_cod,
                  coalesce(c.nombre, i.causa) AS causa_nombre,
                  coalesce(i.duracion_h, date_diff('second', i.inicio, i.fin) / 3600.0, 0)
                      <= {MOMENTARY_H + 1e-9!r} AS momentanea
           FROM interrupciones i
           LEFT JOIN v_activos a ON a.CODE = i.equipo_ope
           LEFT JOIN (VALUES {names}) c(cod, nombre) ON c.cod = ({_cause_case('i.causa')})""",
    ]


def open_readonly(store: str | Path):
    """Read-only connection with the views defined, external file access disabled and config locked."""
    con = connect(store, read_only=True)
    present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    missing = [t for t in ("interrupciones", "trafos", "switches", "redmt") if t not in present]
    if missing:
        con.close()
        raise GridcritError(f"store {store} lacks tables {', '.join(missing)}; ingest the utility's exports first")
    for s in view_sql():
        con.execute(s)
    # The database instance is shared by connections of this process: set once, then lock.
    if str(con.execute("SELECT current_setting('enable_external_access')").fetchone()[0]).lower() != "false":
        con.execute("SET enable_external_access = false")
    if str(con.execute("SELECT current_setting('lock_configuration')").fetchone()[0]).lower() != "true":
        con.execute("SET lock_configuration = true")
    return con


# ------------------------------------------------------------------------------------------ validator
def _walk(node, found: dict) -> None:
    if isinstance(node, dict):
        t = node.get("type")
        if t == "BASE_TABLE":
            found["tables"].append((node.get("catalog_name", ""), node.get("schema_name", ""), node.get("table_name", "")))
        elif t == "TABLE_FUNCTION":
            fn = node.get("function", {}) or {}
            found["table_functions"].append(fn.get("function_name", "?"))
        if node.get("class") == "FUNCTION" or t == "FUNCTION":
            found["functions"].append(str(node.get("function_name", "")))
        cte = node.get("cte_map")
        if isinstance(cte, dict):
            for m in cte.get("map", []):
                found["ctes"].add(str(m.get("key", "")).lower())
        for v in node.values():
            _walk(v, found)
    elif isinstance(node, list):
        for v in node:
            _walk(v, found)


def validate_sql(con, sql: str, allowed: frozenset[str] = ALLOWED_TABLES) -> str:
    """Return ``sql`` if it is exactly one SELECT reading only allow-listed tables; else UnsafeSQLError."""
    import duckdb

    sql = (sql or "").strip()
    if not sql:
        raise UnsafeSQLError("empty SQL")
    if len(sql) > 5000 or "\x00" in sql:
        raise UnsafeSQLError("SQL too long or contains NUL bytes")
    sql = sql.rstrip(";").strip()
    try:
        stmts = con.extract_statements(sql)
    except duckdb.Error as e:
        raise UnsafeSQLError(f"SQL does not parse: {str(e).splitlines()[0]}") from e
    if len(stmts) != 1:
        raise UnsafeSQLError(f"exactly one statement allowed, got {len(stmts)}")
    if stmts[0].type != duckdb.StatementType.SELECT:
        raise UnsafeSQLError(f"only SELECT is allowed, got {stmts[0].type.name}")
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    if tree.get("error"):
        raise UnsafeSQLError(f"SQL rejected by the parser: {tree.get('error_message', '')[:200]}")
    found: dict = {"tables": [], "table_functions": [], "functions": [], "ctes": set()}
    _walk(tree.get("statements", []), found)
    if found["table_functions"]:
        raise UnsafeSQLError(f"table functions are not allowed: {', '.join(found['table_functions'])}")
    for catalog, schema, table in found["tables"]:
        name = table.lower()
        if catalog or schema not in ("", "main", "temp"):
            raise UnsafeSQLError(f"qualified table names are not allowed: {catalog}.{schema}.{table}")
        if name not in allowed and name not in found["ctes"]:
            raise UnsafeSQLError(f"table {table!r} is not allow-listed; allowed: {', '.join(sorted(allowed))}")
    bad = [f for f in found["functions"] if _DENY_FUNCS.match(f)]
    if bad:
        raise UnsafeSQLError(f"functions not allowed: {', '.join(sorted(set(bad)))}")
    return sql


@dataclass
class SQLResult:
    columns: list[str]
    rows: list[list]
    truncated: bool
    seconds: float


def run_select(con, sql: str, params: list | None = None, max_rows: int = MAX_ROWS,
               timeout_s: float = TIMEOUT_S) -> SQLResult:
    """Validate and run ``sql`` with ``params``; at most ``max_rows`` rows, interrupted after ``timeout_s``."""
    import duckdb

    sql = validate_sql(con, sql)
    timer = threading.Timer(timeout_s, con.interrupt)
    t0 = time.perf_counter()
    timer.start()
    try:
        cur = con.execute(sql, params or [])
        rows = cur.fetchmany(max_rows + 1)
        cols = [d[0] for d in cur.description]
    except duckdb.InterruptException as e:
        raise GridcritError(f"query stopped after the {timeout_s:g} s time limit") from e
    except duckdb.Error as e:
        raise ValidationError(f"SQL failed: {str(e).splitlines()[0]}") from e
    finally:
        timer.cancel()
    truncated = len(rows) > max_rows
    return SQLResult(cols, [list(r) for r in rows[:max_rows]], truncated, round(time.perf_counter() - t0, 4))


# ------------------------------------------------------------------------------------------ rule parser
@dataclass
class DataQuery:
    """A parsed data question."""

    metric: str = "eventos"  # eventos | saifi | saidi | usuarios | horas | trafos | duracion_media | usuarios_medios
    group: list[str] = field(default_factory=list)  # columns of v_eventos
    filters: dict = field(default_factory=dict)
    order: str | None = None  # desc | asc (top-k) | period (trend)
    limit: int | None = None


METRICS = {  # name -> (SQL expression, Spanish label, English label)
    "eventos": ("count(DISTINCT evento)", "interrupciones", "interruptions"),
    # SAIFI/SAIDI come from gridcrit.reliability.compute_indices (as `gridcrit indices`); these SQL forms
    # are only used for filters it has no level for (cause, equipment type): the per-row columns are each
    # row's contribution to the system index, summed over sustained rows (> 3 min) as IEEE 1366 does.
    "saifi": ("sum(SAIFI) FILTER (WHERE NOT momentanea)", "contribución al SAIFI del sistema",
              "contribution to the system SAIFI"),
    "saidi": ("sum(SAIDI) FILTER (WHERE NOT momentanea)", "contribución al SAIDI del sistema (h)",
              "contribution to the system SAIDI (h)"),
    "usuarios": ("sum(cnt_usus)", "usuarios afectados", "customers affected"),
    "horas": ("sum(duracion_h)", "horas de interrupción", "interruption hours"),
    "trafos": ("sum(CNT_TRAFOS_AFEC)", "transformadores afectados", "transformers affected"),
    "duracion_media": ("avg(duracion_h)", "duración media (h)", "mean duration (h)"),
    "usuarios_medios": ("avg(cnt_usus)", "usuarios afectados en promedio", "mean customers affected"),
}
_CAUSE_WORDS = [
    (r"\bvegetaci|\barbol|\bramas?\b|\bpoda", "27"),
    (r"\banimal|\bardilla|\bzarigueya|\baves?\b|\bpajaro", "19"),
    (r"\brayos?\b|\bdescargas?\b|\batmosf|\bclima|\blluvia|\btormenta|\bvientos?\b", "30"),
    (r"\btercero|\bvandal|\bchoque de vehic", "15"),
    (r"\bdesconocid", "29"),
    (r"\bpostes?\b|\bcruceta", "37"),
    (r"\btransformador de potencia", "33"),
    (r"\bfalla\w* (en|de|del) (los )?transformador|\btransformador\w* de distribuci", "40"),
    (r"\bomitid", "47"),
]
_EQUIP = [(r"(interruptor|reconectador)", "interruptor"), (r"(transformador|trafo)", "transformador"),
          (r"(tramo|linea)", "tramo de linea")]
_MONTHS = {m: i + 1 for i, m in enumerate(
    ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"])}
_DATA_HINTS = re.compile(
    r"\b(cu[aá]nt[oa]s?|saifi|saidi|interrupcion\w*|evento\w*|cortes?|apagon\w*|fallas?|usuarios afectados|"
    r"clientes afectados|circuito\w*|municipio\w*|tendencia|promedio|total de|ranking|top)\b"
)


# "¿qué transformador / circuito es el más crítico?" is about the utility's own assets, not the RETIE
# (whose "crítico" is about hospitals): answered from the data, with the criterion stated.
_ASSET_KIND = r"(circuito|transformador|trafo|interruptor|reconectador|tramo|activo|equipo)(?:es|s)?"
_CRITICAL = re.compile(r"\b" + _ASSET_KIND + r"\b(\s+\w+){0,3}?\s+(mas\s+(critic|riesgos|problematic)\w*|peor(es)?\b)|"
                       r"\b(mas\s+(critic|riesgos|problematic)\w*|peor(es)?)\s+(de\s+los\s+|de\s+las\s+)?"
                       + _ASSET_KIND + r"\b")
# "los 5 transformadores con más…", "¿qué interruptor tuvo más…?": a ranking of the operated devices
_DEVICE_RANK = re.compile(r"\b(que|cual|cuales|los|las|el|la)\s+(\d{1,2}\s+|tres\s+|cinco\s+|diez\s+)?"
                          r"(transformador|trafo|interruptor|reconectador|tramo|activo|equipo)(es|s)?\b"
                          r"(?!\s+(de\s+)?(afectad|tipo))")
_DEVICE_TYPE = {"transformador": "transformador", "trafo": "transformador", "interruptor": "interruptor",
                "reconectador": "interruptor", "tramo": "tramo de linea"}


# English data questions are mapped word by word onto the Spanish vocabulary the parser knows (the
# words are English-only, so a Spanish question is unchanged). Order matters: phrases before words.
_EN_TO_ES = [(re.compile(rf"\b(?:{a})\b"), b) for a, b in (
    (r"how many", "cuantas"), (r"how long", "cuanto dur"), (r"how much", "cuanto"),
    (r"what|which", "que"), (r"interruptions?|outages?|power cuts?|blackouts?", "interrupciones"),
    (r"events?", "eventos"), (r"faults?|failures?", "fallas"),
    (r"circuits", "circuitos"), (r"circuit|feeder", "circuito"),
    (r"municipalities|towns", "municipios"), (r"municipality|town", "municipio"),
    (r"departments", "departamentos"), (r"department", "departamento"),
    (r"customers|users|clients", "usuarios"), (r"affected", "afectados"),
    (r"transformers", "transformadores"), (r"transformer", "transformador"),
    (r"switches|reclosers|breakers", "interruptores"), (r"switch|recloser|breaker", "interruptor"),
    (r"segments|lines", "tramos"), (r"segment|line", "tramo"),
    (r"(?:equipment|device) types?|types? of (?:equipment|device)", "tipo de equipo"),
    (r"causes", "causas"), (r"cause", "causa"), (r"caused by|due to|because of", "por"),
    (r"vegetation|trees?|branch(?:es)?|pruning", "vegetacion"), (r"animals?|birds?|squirrels?|possums?", "animal"),
    (r"lightning|storms?|weather|rain|winds?|atmospheric", "rayos"), (r"third[ -]part(?:y|ies)|vandalism", "tercero"),
    (r"unknown", "desconocida"), (r"poles?|crossarms?", "postes"), (r"omitted", "omitida"),
    (r"unplanned|unscheduled", "no programadas"),
    (r"average|mean", "promedio"), (r"duration", "duracion"), (r"hours", "horas"),
    (r"trend|evolution", "tendencia"), (r"per year|by year|yearly|annual|annually|each year|year by year", "por ano"),
    (r"per month|by month|monthly|each month|month by month", "por mes"),
    (r"highest|most|worst|maximum|largest|top", "mas"), (r"lowest|fewest|least|best|minimum|smallest", "menos"),
    (r"between", "entre"), (r"and", "y"), (r"from", "desde"), (r"to|until", "hasta"),
    (r"per|by|each", "por"), (r"in|on|at", "en"), (r"of", "de"), (r"the", "los"),
    (r"in total|overall|whole system", "en total"), (r"all", "todas"),
    (r"three", "tres"), (r"five", "cinco"), (r"ten", "diez"),
    *[(m, es) for m, es in zip(
        ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
         "november", "december"],
        ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
         "noviembre", "diciembre"], strict=True)],
    (r"regulation|article|requires?|must|shall", "reglamento"),
)]


def normalise(question: str) -> str:
    """Folded question with English data words mapped to the Spanish ones the parser knows."""
    # fold() keeps ñ, and the parser's patterns write the year as "ano" ("por ano", "cada ano"): "por año",
    # the way it is spelled, was not understood ("SAIFI del sistema por año" gave one multi-year figure)
    q = fold(question).replace("año", "ano")
    for pat, es in _EN_TO_ES:
        q = pat.sub(es, q)
    return q


def is_data_question(question: str) -> bool:
    """True when a question (Spanish or English) asks about the utility's events rather than the regulation."""
    q = normalise(question)
    if re.search(r"\b(retie|reglamento|articulo|norma|exige|requisit|debe[n]? )", q):
        return bool(re.search(r"\b(saifi|saidi|cuantas interrupciones|cuantos eventos)\b", q))
    # a circuit or municipality alone is not enough ("¿cómo se protegen los circuitos de emergencia?"):
    # the question must be about events or indicators
    if _CRITICAL.search(q):
        return True
    return bool(_DATA_HINTS.search(q)) and bool(
        re.search(r"\b(saifi|saidi|interrupcion|evento|corte|apagon|falla|usuarios|clientes|duracion)", q)
    )


def _matching_codes(con, column: str, words: set[str]) -> list[str]:
    """Values of interrupciones.``column`` equal (case-insensitively) to one of ``words``."""
    if not words:
        return []
    marks = ", ".join("?" for _ in words)
    return [r[0] for r in con.execute(
        f"SELECT DISTINCT {column} FROM interrupciones WHERE upper({column}) IN ({marks}) ORDER BY 1",
        sorted(words)).fetchall()]


def _network_circuits(con, words: set[str]) -> list[str]:
    """Circuits (``FPARENT`` of the asset tables) equal, case-insensitively, to one of ``words``."""
    if not words:
        return []
    marks = ", ".join("?" for _ in words)
    return [r[0] for r in con.execute(
        f"SELECT DISTINCT FPARENT FROM redmt WHERE upper(FPARENT) IN ({marks}) ORDER BY 1", sorted(words)).fetchall()]


def _municipalities(con) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT MUN FROM trafos UNION SELECT MUN FROM switches UNION SELECT MUN FROM redmt").fetchall() if r[0]]


_ASSET_WORDS = re.compile(
    r"\b(?:circuitos?|circuits?|feeders?|equipos?|activos?|assets?|devices?|transformador(?:es)?|transformers?|"
    r"trafos?|interruptor(?:es)?|reconectador(?:es)?|switch(?:es)?|reclosers?|tramos?|segments?)\s+"
    r"(?:(?:de|del|el|la|los|las|the|of|code|codigo|número|numero|no\.?)\s+)*([A-Za-z0-9_\-]+)",
    re.IGNORECASE,
)
_UNIT_TOKEN = re.compile(r"^\d+(?:[.,]\d+)?(?:kv|v|kva|mva|va|kw|mw|w|km|m|cm|mm|a|ka|h|min|s|hz|ohm)$", re.IGNORECASE)


def _named_codes(question: str) -> list[str]:
    """Tokens of ``question`` that name an asset: codes mixing letters and digits ("NSA23L14", "T00123"),
    and the word after "circuito"/"transformador"/… when it is written in capitals, holds a digit or is
    capitalised like a name ("circuito Palestina", "circuit X": not lower-case words such as "circuito
    con más eventos")."""
    out: list[str] = []
    for tok in re.findall(r"[A-Za-z0-9_\-]{3,}", question):
        if re.search(r"\d", tok) and re.search(r"[A-Za-z]", tok) and not _UNIT_TOKEN.match(tok):
            out.append(tok.upper())
    for m in _ASSET_WORDS.finditer(question):
        tok = m.group(1)
        if len(tok) < 2 and not tok.isupper():
            continue
        if (tok.isupper() or tok[0].isupper() or re.search(r"\d", tok)) and not re.fullmatch(r"(19|20)\d\d", tok) \
                and not _UNIT_TOKEN.match(tok):
            out.append(tok.upper())
    return list(dict.fromkeys(out))


def _known_codes(con, words: list[str]) -> set[str]:
    """The ``words`` that are a circuit, an operated device or an asset code anywhere in the data."""
    if not words:
        return set()
    marks = ", ".join("?" for _ in words)
    sql = (f"SELECT DISTINCT upper(CAST(c AS VARCHAR)) FROM (SELECT cto_equi_ope AS c FROM interrupciones "
           "UNION ALL SELECT equipo_ope FROM interrupciones UNION ALL SELECT CODE FROM trafos UNION ALL "
           "SELECT FPARENT FROM trafos UNION ALL SELECT CODE FROM switches UNION ALL SELECT FPARENT FROM switches "
           "UNION ALL SELECT CODE FROM redmt UNION ALL SELECT FPARENT FROM redmt) "
           f"WHERE upper(CAST(c AS VARCHAR)) IN ({marks})")
    return {r[0] for r in con.execute(sql, words).fetchall()}


def _suggest(con, code: str, circuit: bool) -> list[str]:
    import difflib

    if circuit:
        sql = ("SELECT DISTINCT CAST(c AS VARCHAR) FROM (SELECT cto_equi_ope AS c FROM interrupciones "
               "UNION ALL SELECT FPARENT FROM redmt) WHERE c IS NOT NULL")
    else:
        sql = ("SELECT DISTINCT CAST(c AS VARCHAR) FROM (SELECT cto_equi_ope AS c FROM interrupciones UNION ALL "
               "SELECT equipo_ope FROM interrupciones) WHERE c IS NOT NULL")
    names = [r[0] for r in con.execute(sql).fetchall()]
    by_upper = {n.upper(): n for n in names}
    return [by_upper[m] for m in difflib.get_close_matches(code.upper(), list(by_upper), n=3, cutoff=0.6)]


def check_named_assets(question: str, con, lang: str = "es") -> None:
    """NotFoundError when the question names a circuit or asset code that is not in the data (the answer
    would otherwise silently be about the whole system), with the closest existing names."""
    named = _named_codes(question)
    known = _known_codes(con, named)
    municipalities = {fold(m).upper() for m in _municipalities(con)}
    missing = [c for c in named if c not in known and fold(c).upper() not in municipalities]
    if not missing:
        return
    code = missing[0]
    circuit = bool(re.search(r"\b(circuito|circuit|feeder)", fold(question)))
    near = _suggest(con, code, circuit)
    if lang == "en":
        what = "circuit" if circuit else "circuit or asset"
        hint = f"; did you mean {', '.join(near)}?" if near else "; list them with 'gridcrit indices --by circuit'"
        raise NotFoundError(f"{what} {code} does not exist in the store's data{hint}")
    what = "el circuito" if circuit else "el circuito o activo"
    hint = f"; ¿quiso decir {', '.join(near)}?" if near else "; véalos con 'gridcrit indices --by circuit'"
    raise NotFoundError(f"{what} {code} no existe en los datos del almacén{hint}")


def parse_question(question: str, con, lang: str = "es") -> DataQuery:
    """Rule-based parser (no LLM) for Spanish questions and their English equivalents. Raises
    NotFoundError for a named circuit/asset that is not in the data, ValidationError when it cannot
    map the question."""
    check_named_assets(question, con, lang)
    q = normalise(question)
    dq = DataQuery()
    avg = bool(re.search(r"\b(promedio|media|medio|en promedio)\b", q))
    if "saifi" in q:
        dq.metric = "saifi"
    elif "saidi" in q:
        dq.metric = "saidi"
    elif re.search(r"(usuarios|clientes)( \w+)? afectad", q) or re.search(r"cuant[oa]s (usuarios|clientes)", q):
        dq.metric = "usuarios_medios" if avg else "usuarios"
    elif re.search(r"transformadores afectad|trafos afectad", q):
        dq.metric = "trafos"
    elif re.search(r"duraci|horas|cuanto (tiempo )?dur", q):
        dq.metric = "duracion_media" if (avg or "cuanto dur" in q) else "horas"
    # filters -------------------------------------------------------------
    years = sorted({int(y) for y in re.findall(r"\b(20[0-4]\d)\b", q)})
    rng = re.search(r"entre (20[0-4]\d) y (20[0-4]\d)|desde (20[0-4]\d) hasta (20[0-4]\d)|de (20[0-4]\d) a (20[0-4]\d)", q)
    if rng:
        a, b = [int(x) for x in rng.groups() if x]
        dq.filters["anio_between"] = (min(a, b), max(a, b))
    elif len(years) == 1:
        dq.filters["anio"] = years[0]
    elif len(years) > 1:
        dq.filters["anio_in"] = years
    for name, num in _MONTHS.items():
        if re.search(rf"\b{name}\b", q):
            dq.filters["mes"] = num
    upper_words = {w.upper() for w in re.findall(r"[A-Za-z0-9_\-]{3,}", question)}
    circuits = _matching_codes(con, "cto_equi_ope", upper_words)
    if not circuits:  # a circuit of the network without interruptions: its answer is 0, not the system's
        circuits = _network_circuits(con, upper_words)
    if circuits:
        dq.filters["circuito"] = circuits[0]
    equipos = [e for e in _matching_codes(con, "equipo_ope", upper_words) if e not in circuits]
    if equipos:
        dq.filters["equipo_ope"] = equipos[0]
    for m in sorted(_municipalities(con), key=len, reverse=True):
        if re.search(r"\b" + re.escape(fold(m)) + r"\b", q):
            dq.filters["municipio"] = m
            break
    for pat, code in _CAUSE_WORDS:
        if re.search(pat, q) and not re.search(r"por causa\b|cada causa|que causa|cual causa", q):
            dq.filters["causa_cod"] = code
            break
    if re.search(r"no programad", q):
        dq.filters["tipo_causa"] = "NP"
    # group / top-k / trend -------------------------------------------------
    critical = bool(_CRITICAL.search(q))
    if critical and not any(k in dq.filters for k in _TIME_FILTERS):
        # no period asked: the last complete year (a partial year would rank by a few months)
        full = con.execute("SELECT max(y) FROM (SELECT year(inicio) AS y FROM interrupciones GROUP BY 1 "
                           "HAVING count(DISTINCT month(inicio)) = 12)").fetchone()[0]
        last = full if full is not None else con.execute("SELECT max(year(inicio)) FROM interrupciones").fetchone()[0]
        if last is not None:
            dq.filters["anio"] = int(last)
    ranks = re.search(r"\b(mayor|mas|peor|maximo|mas alto|primer|menor|menos|mejor|minimo|mas bajo)\b", q)
    dev = _DEVICE_RANK.search(q)
    if dev and (ranks or critical) and "equipo_ope" not in dq.filters:
        dq.group = ["equipo_ope"]
        kind = _DEVICE_TYPE.get(dev.group(3))
        if kind:
            dq.filters["tipo_equi_ope"] = kind
        if critical and not ranks:
            q += " mas"
    elif critical and "circuito" not in dq.filters and re.search(r"\bcircuito", q):
        dq.group = ["circuito"]
        if not ranks:
            q += " mas"
        if dq.metric == "eventos" and not re.search(r"\binterrupcion|\bevento|\bfalla|\bcorte", q):
            dq.metric = "saifi"  # a circuit's criticality is its SAIFI (what `gridcrit predict` ranks)
    group_words = [
        (r"circuito", "circuito"), (r"municipio", "municipio"), (r"\bcausa", "causa_nombre"),
        (r"tipo de equipo|tipo de (dispositivo|elemento)|equipo", "tipo_equi_ope"), (r"departamento", "departamento"),
    ]
    which = re.search(r"\b(que|cual|cuales|cuantos|por|cada|segun|los|las|\d+)\s+(\w+\s+)?(" +
                      "|".join(p for p, _ in group_words) + r")", q)
    if which and not dq.group:
        for pat, col in group_words:
            if re.search(pat, which.group(3)):
                if col in dq.filters:  # "el circuito NSA23L14" is a filter, not a grouping
                    break
                dq.group = [col]
                break
    if "tipo_equi_ope" not in dq.group and "tipo_equi_ope" not in dq.filters:
        for pat, col in _EQUIP:
            if col == "transformador" and dq.filters.get("causa_cod") in ("33", "40"):
                continue  # "falla en transformador" is the cause, not the operated device
            if re.search(r"\b(en|de|los|las|por|con|sobre)\s+(los\s+|las\s+)?" + pat.removeprefix("\\b"), q):
                dq.filters["tipo_equi_ope"] = col
                break
    if re.search(r"\b(por mes|mensual|mensualmente|cada mes|mes a mes)\b", q):
        dq.group = [*dq.group, "anio", "mes"]
        dq.order = "period"
    elif re.search(r"\b(tendencia|evolucion|por ano|anual|anualmente|cada ano|ano a ano)\b", q):
        dq.group = [*dq.group, "anio"]
        dq.order = "period"
    top = re.search(r"\b(?:los|las)?\s*(\d{1,2}|tres|cinco|diez)\s+(circuitos|municipios|causas|equipos|"
                    r"transformadores|trafos|interruptores|reconectadores|tramos|activos)", q)
    words_n = {"tres": 3, "cinco": 5, "diez": 10}
    if re.search(r"\b(mayor|mas|peor|maximo|mas alto|primer)\b", q) and dq.group and dq.order != "period":
        dq.order = "desc"
    elif re.search(r"\b(menor|menos|mejor|minimo|mas bajo)\b", q) and dq.group and dq.order != "period":
        dq.order = "asc"
    if dq.order in ("desc", "asc"):
        dq.limit = (int(top.group(1)) if top.group(1).isdigit() else words_n[top.group(1)]) if top else 1
        if not top and dq.group == ["equipo_ope"] and dev and dev.group(4):
            dq.limit = 10  # "los transformadores con más…": a list, not one
    elif dq.group and dq.order is None:
        dq.order = "desc"
        dq.limit = int(top.group(1)) if top and top.group(1).isdigit() else None
    if not (dq.filters or dq.group or re.search(r"\b(total|en total|todas|sistema)\b", q)):
        if lang == "en":
            raise ValidationError(
                "I did not understand the data question: name a circuit, municipality, cause, equipment type or "
                "period (e.g. 'how many interruptions did circuit X have in 2023?')")
        raise ValidationError(
            "no entendí la pregunta de datos: nombre un circuito, municipio, causa, tipo de equipo o periodo "
            "(p. ej. '¿cuántas interrupciones tuvo el circuito X en 2023?')"
        )
    return dq


def to_sql(dq: DataQuery) -> tuple[str, list]:
    """Parameterised SQL over ``v_eventos`` for a parsed question (values never pasted into the text)."""
    expr = METRICS[dq.metric][0]
    where, params = [], []
    for col, val in dq.filters.items():
        if col == "anio_between":
            where.append("anio BETWEEN ? AND ?")
            params += list(val)
        elif col == "anio_in":
            where.append("anio IN (" + ", ".join("?" for _ in val) + ")")
            params += list(val)
        else:
            where.append(f"{col} = ?")
            params.append(val)
    sel = [*dq.group, f"{expr} AS valor"]
    sql = "SELECT " + ", ".join(sel) + " FROM v_eventos"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if dq.group:
        sql += " GROUP BY " + ", ".join(dq.group)
        non_null = [g for g in dq.group if g not in ("anio", "mes")]
        if non_null:
            sql += " HAVING " + " AND ".join(f"{g} IS NOT NULL" for g in non_null)
        if dq.order == "period":
            sql += " ORDER BY " + ", ".join(dq.group)
        elif dq.order in ("desc", "asc"):
            sql += f" ORDER BY valor {dq.order.upper()}, " + ", ".join(dq.group)
    if dq.limit:
        sql += f" LIMIT {int(dq.limit)}"
    return sql, params


@dataclass
class DataAnswer:
    text: str
    sql: str
    params: list
    columns: list[str]
    rows: list[list]
    query: dict | None
    source: str  # rules | llm | llm->rules
    notes: list[str] = field(default_factory=list)
    found: bool = True  # False: the data cannot answer (e.g. a period the store has no events for)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 0.01 else f"{v:,.2f}"
    return str(v)


def _describe(dq: DataQuery | None, res: SQLResult, lang: str) -> str:
    if not res.rows:
        return "No hay eventos que cumplan esas condiciones." if lang == "es" else "No events match those conditions."
    label = METRICS[dq.metric][1 if lang == "es" else 2] if dq else "valor"
    if dq and not dq.group and len(res.rows) == 1:
        cond = ", ".join(f"{k}={v}" for k, v in dq.filters.items())
        v = res.rows[0][-1]
        return f"{label}: {_fmt(v if v is not None else 0)}" + (f" ({cond})" if cond else "")
    lines = [" | ".join(res.columns)] + [" | ".join(_fmt(x) for x in r) for r in res.rows[:20]]
    if len(res.rows) > 20:
        lines.append(f"… ({len(res.rows)} filas)")
    return "\n".join(lines)


_SQL_PROMPT = """Write ONE DuckDB SELECT statement answering the question. Use only the view v_eventos with columns:
evento, periodo, equipo_ope, tipo_equi_ope, cto_equi_ope, inicio, fin, duracion_h, causa, tipo_causa, CNT_TRAFOS_AFEC,
cnt_usus, SAIDI, SAIFI, anio, mes, circuito, municipio, departamento, causa_cod, causa_nombre, momentanea.
Count interruptions with count(DISTINCT evento); momentanea is true for interruptions of at most 3 minutes.
Reply with the SQL only, inside ```sql ... ```."""

_SCOPE = {"system": ("del sistema", "of the system"), "circuit": ("del circuito", "of the circuit"),
          "municipality": ("del municipio", "of the municipality")}
_INDEX_LEVEL = {"circuito": "circuit", "municipio": "municipality"}
_TIME_FILTERS = ("anio", "anio_in", "anio_between", "mes")


def _index_plan(dq: DataQuery) -> tuple[str, str, bool] | None:
    """(level, period, unplanned_only) of compute_indices for a SAIFI/SAIDI question, or None when a
    filter or grouping has no level there (cause, equipment type, device, department)."""
    f = dict(dq.filters)
    unplanned = f.pop("tipo_causa", None) == "NP"
    if "tipo_causa" in dq.filters and not unplanned:
        return None
    other = [k for k in f if k not in _TIME_FILTERS and k not in _INDEX_LEVEL]
    other += [g for g in dq.group if g not in _INDEX_LEVEL and g not in ("anio", "mes")]
    levels = {_INDEX_LEVEL[c] for c in [*f, *dq.group] if c in _INDEX_LEVEL}
    if other or len(levels) > 1:
        return None
    period = "month" if ("mes" in dq.group or "mes" in f) else "year"
    return (levels.pop() if levels else "system"), period, unplanned


def _indices_answer(dq: DataQuery, store: str | Path, plan: tuple[str, str, bool], lang: str) -> DataAnswer:
    """SAIFI/SAIDI exactly as ``gridcrit indices``: IEEE 1366 over sustained interruptions (> 3 min), per
    month divided by the customers of the group, a year's value the sum of its months."""
    import duckdb
    import numpy as np
    import pandas as pd

    from gridcrit.reliability.indices import compute_indices

    by, period, unplanned = plan
    # A separate in-memory instance attaching the store read-only: the connections of open_readonly lock
    # the configuration of the store's own instance, which compute_indices adjusts.
    icon = duckdb.connect(":memory:")
    try:
        icon.execute("ATTACH '" + str(Path(store)).replace("'", "''") + "' AS store (READ_ONLY)")
        icon.execute("USE store")
        fr = compute_indices(icon, by=by, period=period, unplanned_only=unplanned).frame
    finally:
        icon.close()
    per = fr["period"].astype(str)
    keep = np.ones(len(fr), dtype=bool)
    f = dq.filters
    if "anio" in f:
        keep &= (per.str[:4] == str(f["anio"])).to_numpy()
    if "anio_in" in f:
        keep &= per.str[:4].isin([str(y) for y in f["anio_in"]]).to_numpy()
    if "anio_between" in f:
        y = per.str[:4].astype(int)
        keep &= ((y >= f["anio_between"][0]) & (y <= f["anio_between"][1])).to_numpy()
    if "mes" in f:
        keep &= (per.str[5:7] == f"{int(f['mes']):02d}").to_numpy()
    for col in _INDEX_LEVEL:
        if col in f:
            keep &= (fr["group"].astype(str) == str(f[col])).to_numpy()
    fr = fr[keep]
    per = per[keep]
    idx = "SAIFI" if dq.metric == "saifi" else "SAIDI"
    t = pd.DataFrame({"valor": fr[idx].to_numpy(dtype=float), "contrib": fr[idx + "_contrib"].to_numpy(dtype=float),
                      "maifi": fr["MAIFI"].to_numpy(dtype=float), "events": fr["events"].to_numpy()})
    for g in dq.group:
        if g in _INDEX_LEVEL:
            t[g] = fr["group"].to_numpy(dtype=object)
        elif g == "anio":
            t[g] = per.str[:4].astype(int).to_numpy()
        elif g == "mes":
            t[g] = per.str[5:7].astype(int).to_numpy()
    es = lang != "en"
    scope = _SCOPE[by][0 if es else 1]
    use_contrib = by != "system" and bool(t["valor"].isna().any())
    if use_contrib:  # no customer base for some group-months (NaN in `indices`): its system contribution
        t["valor"] = t["contrib"]
    cmd = f"gridcrit indices --by {by} --period {period}" + (" --unplanned-only" if unplanned else "")
    if es:
        how = (f"IEEE 1366 (como `{cmd}`): interrupciones sostenidas (> 3 min) ÷ usuarios {scope}, "
               "suma de los valores mensuales")
    else:
        how = (f"IEEE 1366 (as `{cmd}`): sustained interruptions (> 3 min) ÷ customers {scope}, "
               "sum of the monthly values")
    label = ("SAIFI" if idx == "SAIFI" else "SAIDI (h)")
    if use_contrib:
        label = METRICS[dq.metric][1 if es else 2]
        how = (f"columna {idx}_contrib de `{cmd}`: sin base de usuarios {scope} en algún mes, se da su aporte al "
               "índice del sistema (interrupciones sostenidas > 3 min ÷ usuarios del sistema)" if es else
               f"column {idx}_contrib of `{cmd}`: no customer base {scope} in some month, so its contribution to "
               "the system index is given (sustained interruptions > 3 min ÷ customers of the system)")

    def total(x: pd.Series) -> float | None:
        return None if x.isna().all() else float(x.sum())  # NaN: no customer base for the group

    if not dq.group:
        if t.empty:
            rows: list[list] = []
            text = ("No hay datos que cumplan esas condiciones." if es else "No data match those conditions.")
        else:
            v, c, m = total(t["valor"]), total(t["contrib"]), total(t["maifi"])
            rows = [[v]]
            cond = ", ".join(f"{k}={val}" for k, val in f.items())
            shown = "—" if v is None else f"{v:.3f}"
            text = f"{label}: {shown}" + (f" ({cond})" if cond else "") + f" — {how}."
            extra = []
            if by != "system" and c is not None and not use_contrib:
                extra.append(("contribución al índice del sistema: " if es else "contribution to the system index: ")
                             + f"{c:.3f}")
            if idx == "SAIFI" and m is not None:
                extra.append(("MAIFI (interrupciones momentáneas ≤ 3 min): " if es else
                              "MAIFI (momentary interruptions ≤ 3 min): ") + f"{m:.3f}")
            if extra:
                text += "\n" + "; ".join(extra) + "."
        return DataAnswer(text, "", [], ["valor"], rows, asdict(dq), "indices", [])
    agg = t.groupby(dq.group, sort=True, dropna=True)["valor"].agg(total).reset_index()
    if dq.order == "period":
        agg = agg.sort_values(dq.group, kind="stable")
    elif dq.order in ("desc", "asc"):
        agg = agg.sort_values(["valor", *dq.group], ascending=[dq.order == "asc", *[True] * len(dq.group)],
                              na_position="last", kind="stable")
    if dq.limit:
        agg = agg.head(int(dq.limit))
    cols = [*dq.group, "valor"]
    rows = [[(x.item() if hasattr(x, "item") else x) for x in r] for r in agg[cols].itertuples(index=False)]
    rows = [[None if isinstance(x, float) and x != x else x for x in r] for r in rows]
    res = SQLResult(cols, rows, False, 0.0)
    text = _describe(dq, res, lang) + (f"\n({label}: {how}.)" if rows else "")
    return DataAnswer(text, "", [], cols, rows, asdict(dq), "indices", [])


def _momentary_note(con, dq: DataQuery, res: SQLResult, lang: str, timeout_s: float) -> str:
    """For an interruption count: how many were momentary (≤ 3 min), which `gridcrit indices` does not
    count in SAIFI/SAIDI nor in its ``events`` column."""
    if dq.metric != "eventos" or dq.group or len(res.rows) != 1 or not res.rows[0][-1]:
        return ""
    sql, params = to_sql(dq)
    sql = sql.replace(f"{METRICS['eventos'][0]} AS valor",
                      "count(DISTINCT evento) FILTER (WHERE NOT momentanea) AS sostenidas", 1)
    sus = run_select(con, sql, params, 1, timeout_s).rows[0][0] or 0
    mom = int(res.rows[0][-1]) - int(sus)
    if mom <= 0:
        return ""
    if lang == "en":
        return (f"\nof which {mom} momentary (≤ 3 min) and {sus} sustained; only sustained interruptions count "
                "in SAIFI/SAIDI and in the events of `gridcrit indices`.")
    return (f"\nde ellas {mom} {'momentánea' if mom == 1 else 'momentáneas'} (≤ 3 min) y {sus} "
            f"{'sostenida' if sus == 1 else 'sostenidas'}; solo las sostenidas cuentan en SAIFI/SAIDI y en los "
            "eventos de `gridcrit indices`.")


def _period_gap(con, dq: DataQuery, lang: str) -> str | None:
    """A sentence when the asked period lies wholly outside the months the store has events for (a count
    of 0 or "no data" would read as "no interruptions happened"), else None."""
    lo, hi = con.execute("SELECT min(inicio), max(inicio) FROM interrupciones").fetchone()
    if lo is None:
        return None
    first, last = lo.year * 12 + lo.month - 1, hi.year * 12 + hi.month - 1
    f = dq.filters
    years = ([f["anio"]] if "anio" in f else list(f.get("anio_in", [])) or
             (list(range(f["anio_between"][0], f["anio_between"][1] + 1)) if "anio_between" in f else []))
    if not years:
        return None
    months = [f["mes"]] if "mes" in f else list(range(1, 13))
    if any(first <= y * 12 + m - 1 <= last for y in years for m in months):
        return None
    asked = ", ".join(str(y) for y in years) if "mes" not in f else \
        ", ".join(f"{y}-{int(f['mes']):02d}" for y in years)
    span = f"{lo.year}-{lo.month:02d} – {hi.year}-{hi.month:02d}"
    if lang == "en":
        return (f"No data for {asked}: the store has interruptions from {span} only, so this is not a count of "
                "zero.")
    return f"Sin datos para {asked}: el almacén tiene interrupciones solo de {span}, así que no es un conteo de cero."


def _partial_year_note(con, dq: DataQuery, rows: list[list], lang: str) -> str:
    """A yearly trend whose last year is not complete in the data says so (2024 with 6 months of events
    is not a drop)."""
    if "anio" not in dq.group or "mes" in dq.group or not rows:
        return ""
    hi = con.execute("SELECT max(inicio) FROM interrupciones").fetchone()[0]
    lo = con.execute("SELECT min(inicio) FROM interrupciones").fetchone()[0]
    i = dq.group.index("anio")
    years = {r[i] for r in rows}
    notes = []
    if hi is not None and hi.year in years and hi.month < 12:
        notes.append((f"{hi.year}: datos solo hasta {hi.year}-{hi.month:02d}", f"{hi.year}: data up to "
                      f"{hi.year}-{hi.month:02d} only"))
    if lo is not None and lo.year in years and lo.month > 1:
        notes.append((f"{lo.year}: datos solo desde {lo.year}-{lo.month:02d}", f"{lo.year}: data from "
                      f"{lo.year}-{lo.month:02d} only"))
    if not notes:
        return ""
    k = 1 if lang == "en" else 0
    return ("\n(Incomplete year — " if k else "\n(Año incompleto — ") + "; ".join(n[k] for n in notes) + ".)"


def _criterion(question: str, dq: DataQuery, lang: str) -> str:
    """For "¿cuál es el circuito/transformador más crítico?": what the ranking is based on."""
    if not _CRITICAL.search(normalise(question)):
        return ""
    what = {"saifi": ("SAIFI", "SAIFI"), "saidi": ("SAIDI", "SAIDI")}.get(
        dq.metric, ("número de interrupciones", "number of interruptions"))
    year = dq.filters.get("anio")
    asked = bool(re.search(r"\b(19|20)\d\d\b", question))
    if lang == "en":
        when = f"in {year}" + ("" if asked else ", the last complete year with data") if year else "in the period asked"
        return (f"\n(Criterion: recorded {what[1]} {when}. The predicted risk of each asset is given by `gridcrit "
                "predict --top 20`, and maintenance actions for its critical variables, with the RETIE clauses "
                "behind them, by `gridcrit assistant recommend`.)")
    when = f"en {year}" + ("" if asked else ", último año completo con datos") if year else "en el periodo preguntado"
    return (f"\n(Criterio: {what[0]} registrado {when}. El riesgo previsto de cada activo lo da `gridcrit "
            "predict --top 20`, y las acciones de mantenimiento para sus variables críticas, con las cláusulas del "
            "RETIE que las respaldan, `gridcrit assistant recommend`.)")


def _ties_note(con, sql: str, params: list, dq: DataQuery, res: SQLResult, lang: str, timeout_s: float) -> str:
    """A top-k cut through a tie ("the" transformer with most interruptions, when four have 4): name the
    others with the same value."""
    if dq.order not in ("desc", "asc") or not dq.limit or len(res.rows) < dq.limit or not res.rows:
        return ""
    last = res.rows[-1][-1]
    if last is None:
        return ""
    base = sql.rsplit(" LIMIT ", 1)[0]
    keys = ", ".join(dq.group)
    tied = run_select(con, f"SELECT {keys} FROM ({base}) t WHERE valor = ? ORDER BY {keys}", [*params, last],
                      50, timeout_s).rows
    shown = {tuple(r[:-1]) for r in res.rows}
    others = [" / ".join(str(x) for x in r) for r in tied if tuple(r) not in shown]
    if not others:
        return ""
    names = ", ".join(others[:10]) + (f" (+{len(others) - 10})" if len(others) > 10 else "")
    if lang == "en":
        return f"\nTied with the same value ({_fmt(last)}): {names}."
    return f"\nEmpatados con el mismo valor ({_fmt(last)}): {names}."


def answer_data_question(question: str, store: str | Path, lang: str = "es", llm=None,
                         max_rows: int = MAX_ROWS, timeout_s: float = TIMEOUT_S) -> DataAnswer:
    """Answer a data question. With ``llm`` (has ``complete(messages)``) its SQL is validated first;
    if the LLM fails or proposes unsafe SQL the rule parser answers."""
    con = open_readonly(store)
    try:
        notes: list[str] = []
        try:
            dq = parse_question(question, con, lang)  # checks the named assets first (NotFoundError)
        except ValidationError:
            if llm is None:
                raise
            dq = None
        gap = _period_gap(con, dq, lang) if dq is not None else None
        if gap:
            return DataAnswer(gap, "", [], [], [], asdict(dq), "rules", [], found=False)
        plan = _index_plan(dq) if dq is not None and dq.metric in ("saifi", "saidi") else None
        if plan is not None:
            ans = _indices_answer(dq, store, plan, lang)
            ans.text += _partial_year_note(con, dq, ans.rows, lang) + _criterion(question, dq, lang)
            return ans
        if llm is not None:
            try:
                text = llm.complete([{"role": "system", "content": _SQL_PROMPT},
                                     {"role": "user", "content": question}])
                m = re.search(r"```(?:sql)?\s*(.+?)```", text, re.DOTALL | re.IGNORECASE)
                sql = (m.group(1) if m else text).strip()
                res = run_select(con, sql, [], max_rows, timeout_s)
                return DataAnswer(_describe(None, res, lang), sql, [], res.columns, res.rows, None, "llm", notes)
            except GridcritError as e:
                notes.append(f"LLM SQL not used: {e}")
        if dq is None:
            dq = parse_question(question, con, lang)
        sql, params = to_sql(dq)
        res = run_select(con, sql, params, max_rows, timeout_s)
        if res.truncated:
            notes.append(f"result truncated to {max_rows} rows")
        text = (_describe(dq, res, lang) + _momentary_note(con, dq, res, lang, timeout_s)
                + _ties_note(con, sql, params, dq, res, lang, timeout_s) + _partial_year_note(con, dq, res.rows, lang)
                + _criterion(question, dq, lang))
        if dq.metric in ("saifi", "saidi"):
            text += ("\n(sumas de las columnas SAIFI/SAIDI por fila de las interrupciones sostenidas > 3 min: "
                     "su aporte al índice del sistema, que `gridcrit indices --by system` suma)" if lang != "en" else
                     "\n(sums of the per-row SAIFI/SAIDI columns of sustained interruptions > 3 min: their "
                     "contribution to the system index, which `gridcrit indices --by system` adds up)")
        return DataAnswer(text, sql, params, res.columns, res.rows, asdict(dq),
                          "llm->rules" if llm is not None else "rules", notes)
    finally:
        con.close()
