"""Validation of a staged file, vectorised in DuckDB SQL (no per-row Python).

Given a stage (``_line, c0, c1, ...``, see :mod:`gridcrit.data.readers`) and the table it was
recognised as, :func:`typed_view` builds a view with the table's canonical columns parsed to their
types, and :func:`check` runs every rule with one aggregate query (plus one example query per rule
that fails). Problems are ``file:line:column: what is wrong``.

Parsing rules for text values: surrounding blanks are trimmed; ``-``, ``XXX`` and empty are missing;
numbers accept a decimal comma (``2,5``), not a thousands separator (``1.234`` in an integer column,
``1.234,5``: refused with their own message) nor ``NaN``/``inf``; integers accept ``12.0`` but not
``12.5``; dates accept ISO (``2024-01-31``, with or without a time) and ``dd/mm/yyyy[ hh:mm[:ss]]``
(day first). Numeric codes kept as text (:data:`DECIMAL_CODES`) are stored with a decimal point. A
value present in the file that does not parse is an error. A new row whose time key differs from a
stored row's only in the seconds is an error too (an export re-saved through Excel loses them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from gridcrit.data.schema import LAT_RANGE, LON_RANGE, MISSING_TOKENS, TableSpec

# (start, end) columns that must satisfy start <= end.
ORDERED_PAIRS: dict[str, tuple[str, str]] = {"interrupciones": ("inicio", "fin")}
# Key columns the real export leaves empty on a few rows (41 of 189,639 interrupciones rows have no
# equipo_ope in the published profile); rows are still identified by the whole key, NULL included.
NULLABLE_KEY: set[tuple[str, str]] = {("interrupciones", "equipo_ope")}
# Dates outside this range are typos (0024-01-01, 2204-01-01), not history.
YEAR_RANGE = (1900, 2100)
# Text columns holding numeric codes ('causa' 30.0, 'tipo_elemento' 13.2): a Spanish-locale export
# writes them with a decimal comma ('30,0'), which downstream code (TRY_CAST(causa AS DOUBLE), cause
# groups) would read as no code at all. They are stored with a decimal point.
DECIMAL_CODES: set[tuple[str, str]] = {("interrupciones", "causa"), ("interrupciones", "tipo_elemento")}
# A number written with thousands separators: '1.234' (1234 in a Spanish-locale export), '1.234,5',
# '1,234.5', '12.345.678'. Refused (with its own message), never guessed.
THOUSANDS_RE = r"[+-]?[1-9][0-9]{0,2}([.,][0-9]{3})+([.,][0-9]+)?"
EXAMPLES_PER_RULE = 5
PROBLEMS_PER_FILE = 20

_TEXTUAL = ("VARCHAR",)


@dataclass
class FileProblems:
    """Problems found in one file: the first examples (English in ``shown``, Spanish in
    ``shown_es``) and the total count."""

    file: str
    shown: list[str] = field(default_factory=list)
    total: int = 0
    shown_es: list[str] = field(default_factory=list)

    def add(self, line: int | str, column: str, what: str, count: int = 1, es: str | None = None) -> None:
        """Record a problem; ``what`` is English, ``es`` its Spanish text (``what`` when not given)."""
        self.total += count
        if len(self.shown) < PROBLEMS_PER_FILE:
            self.shown.append(f"{self.file}:{line}:{column}: {what}")
            self.shown_es.append(f"{self.file}:{line}:{column}: {es or what}")

    def add_msg(self, line: int | str, column: str, message: str, /, *values: object, **fields: object) -> None:
        """Record problem ``message`` (a :data:`MESSAGES` key) in both languages."""
        en, es = msg(message, *values, **fields)
        self.add(line, column, en, es=es)

    def __bool__(self) -> bool:
        return self.total > 0


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _missing_as_null(c: str) -> str:
    tokens = ", ".join(_lit(t) for t in MISSING_TOKENS)
    return f"CASE WHEN trim({c}) IN ({tokens}) THEN NULL ELSE trim({c}) END"


def parse_expr(src_col: str, src_type: str, target: str, typed_file: bool = False) -> str:
    """SQL expression parsing source column ``src_col`` (DuckDB type ``src_type``) to ``target``.

    ``typed_file``: the file has its own types (Parquet); its text columns only get the missing
    tokens mapped to NULL, without trimming (trimming allocates a new string per value and doubles
    the cost of loading 10 M-row snapshot tables, while typed exports are not padded).
    """
    if src_type.upper() not in _TEXTUAL:
        # Typed source (Parquet): DuckDB casts; NaN floats become missing.
        if target == "DOUBLE" and src_type.upper() in ("DOUBLE", "FLOAT"):
            return f"CASE WHEN isnan({src_col}) THEN NULL ELSE {src_col}::DOUBLE END"
        if target == "VARCHAR" and src_type.upper() in ("DOUBLE", "FLOAT"):
            # a code column pandas wrote as float (an integer column with a missing value): node id
            # 19057918 must stay '19057918', not become '19057918.0' that joins nothing
            return (
                f"CASE WHEN isnan({src_col}) THEN NULL "
                f"WHEN {src_col} = trunc({src_col}) AND abs({src_col}) < 1e15 "
                f"THEN CAST(CAST({src_col} AS BIGINT) AS VARCHAR) ELSE CAST({src_col} AS VARCHAR) END"
            )
        return f"TRY_CAST({src_col} AS {target})"
    if typed_file and target == "VARCHAR":
        tokens = ", ".join(_lit(t) for t in MISSING_TOKENS)
        return f"CASE WHEN {src_col} IN ({tokens}) THEN NULL ELSE {src_col} END"
    v = _missing_as_null(src_col)
    if target == "VARCHAR":
        return v
    num = f"replace({v}, ',', '.')"
    if target == "DOUBLE":
        # 'NaN' and 'inf' are not measurements (a NaN would turn every sum over the column into NaN)
        return f"CASE WHEN isfinite(TRY_CAST({num} AS DOUBLE)) THEN TRY_CAST({num} AS DOUBLE) END"
    if target in ("BIGINT", "INTEGER"):
        d = f"TRY_CAST({num} AS DOUBLE)"
        # '12' and '12.0' are integers (pandas writes ints with missing values as floats); '12.5' is not.
        # Only plain digits go through DuckDB's integer cast: it rounds '12.5' to 13 and reads '1.234'
        # as 1. A thousands separator ('1.234' = 1234 in a Spanish-locale export) is refused, not guessed.
        return (
            f"CASE WHEN regexp_full_match({v}, '[+-]?[0-9]+') THEN TRY_CAST({v} AS {target}) "
            f"WHEN NOT regexp_full_match({v}, {_lit(THOUSANDS_RE)}) AND {d} = trunc({d}) "
            f"THEN TRY_CAST({d} AS {target}) END"
        )
    fmts = "['%d/%m/%Y %H:%M:%S', '%d/%m/%Y %H:%M', '%d/%m/%Y', '%Y/%m/%d']"
    # 12-hour clock as Spanish-locale Excel writes it: '5/01/2019 3:07:00 p. m.' ('a.m.', 'PM' too).
    ampm = (
        rf"try_strptime(regexp_replace({v}, '\s*([aApP])\.?\s*[mM]\.?$', ' \1M'), "
        "['%d/%m/%Y %I:%M:%S %p', '%d/%m/%Y %I:%M %p', '%Y-%m-%d %I:%M:%S %p', '%Y-%m-%d %I:%M %p'])"
    )
    # The common shapes first, each with the one format that fits it: a failing cast or strptime
    # format costs ~15x a successful one, and the old chain read dd/mm/yyyy only after two or three
    # failures (6.8 s instead of 0.3 s per 4 M values, three scans per file). Whatever the fast
    # expression cannot read goes through the full chain, so the accepted values are unchanged.
    colon = f"strpos({v}, ':')"
    fast = (
        f"CASE WHEN NOT contains({v}, '/') THEN TRY_CAST({v} AS {target}) "
        f"WHEN {colon} = 0 THEN try_strptime({v}, '%d/%m/%Y') "
        f"WHEN strpos(substr({v}, {colon} + 1), ':') = 0 THEN try_strptime({v}, '%d/%m/%Y %H:%M') "
        f"ELSE try_strptime({v}, '%d/%m/%Y %H:%M:%S') END"
    )
    if target == "DATE":
        return (
            f"coalesce(TRY_CAST({fast} AS DATE), TRY_CAST({v} AS DATE), "
            f"TRY_CAST(TRY_CAST({v} AS TIMESTAMP) AS DATE), "
            f"TRY_CAST(try_strptime({v}, {fmts}) AS DATE), TRY_CAST({ampm} AS DATE))"
        )
    if target == "TIMESTAMP":
        return f"coalesce({fast}, TRY_CAST({v} AS TIMESTAMP), try_strptime({v}, {fmts}), {ampm})"
    return f"TRY_CAST({v} AS {target})"


def _type_word(t: str, lang: str = "en") -> str:
    words = {
        "DOUBLE": ("a number", "un número"),
        "BIGINT": ("an integer", "un entero"),
        "INTEGER": ("an integer", "un entero"),
        "DATE": ("a date (YYYY-MM-DD or dd/mm/yyyy)", "una fecha (AAAA-MM-DD o dd/mm/aaaa)"),
        "TIMESTAMP": ("a date-time (YYYY-MM-DD hh:mm:ss)", "una fecha y hora (AAAA-MM-DD hh:mm:ss)"),
    }.get(t, (t, t))
    return words[lang == "es"]


# Problem texts (English, Spanish) shared by ingest and validation; ``{0}``, ``{1}`` ... are values
# computed in SQL (check_rows), named fields are filled in Python (:func:`msg`).
MESSAGES: dict[str, tuple[str, str]] = {
    "type": ("value {0} is not {what}", "el valor {0} no es {what_es}"),
    "year": ("date {0} is outside {lo}..{hi}", "la fecha {0} está fuera de {lo}..{hi}"),
    "year_text": (
        "date {0} (read as {1}) is outside {lo}..{hi} (a 2-digit year or a typo?)",
        "la fecha {0} (leída como {1}) está fuera de {lo}..{hi} (¿año de 2 dígitos o error de "
        "digitación?)",
    ),
    "thousands": (
        "value {0} has a thousands separator: write it without one (1234, or 1234,5 / 1234.5)",
        "el valor {0} tiene separador de miles: escríbalo sin él (1234, o 1234,5 / 1234.5)",
    ),
    "null_key": ("missing value in key column", "falta el valor en una columna clave"),
    "negative": ("negative value {0} (must be >= 0)", "valor negativo {0} (debe ser >= 0)"),
    "range": (
        "coordinate {0} outside {lo}..{hi} (swapped lon/lat or projected?)",
        "coordenada {0} fuera de {lo}..{hi} (¿longitud/latitud invertidas o proyectadas?)",
    ),
    "order": ("{b} {0} is before {a} {1}", "{b} {0} es anterior a {a} {1}"),
    "dup_row": ("duplicated row (identical to line {first})", "fila duplicada (idéntica a la línea {first})"),
    "dup_key": (
        "duplicate key {key} (also on line {first} with different values)",
        "clave duplicada {key} (también en la línea {first} con valores distintos)",
    ),
    "conflict": (
        "key {key} is already stored with different values (conflicting row; differs in: {cols})",
        "la clave {key} ya está almacenada con valores distintos (fila en conflicto; difiere en: {cols})",
    ),
    "conflict_batch": (
        "key {key} is already stored with different values, or in an earlier file of this load ({files})"
        " (conflicting row; differs in: {cols})",
        "la clave {key} ya está almacenada con valores distintos, o en un archivo anterior de esta carga"
        " ({files}) (fila en conflicto; difiere en: {cols})",
    ),
    "seconds_lost": (
        "key {key} differs from the stored row with {col} {stored} only in the seconds (times saved"
        " without seconds, e.g. through Excel? format them dd/mm/yyyy hh:mm:ss): the same row would be"
        " stored twice",
        "la clave {key} difiere de la fila almacenada con {col} {stored} solo en los segundos (¿horas"
        " guardadas sin segundos, p. ej. desde Excel? deles formato dd/mm/aaaa hh:mm:ss): la misma fila"
        " quedaría almacenada dos veces",
    ),
    "cannot_read": ("cannot read file: {error}", "no se puede leer el archivo: {error}"),
    "empty": ("empty file (no header, no rows)", "archivo vacío (sin encabezado ni filas)"),
    "first_line_blank": (
        "line 1 is empty: the header must be on line 1 (delete the empty lines above it)",
        "la línea 1 está vacía: el encabezado debe estar en la línea 1 (borre las líneas vacías de arriba)",
    ),
    "no_table": (
        "header [{header}] matches no known table (a table is recognised by: {sigs})",
        "el encabezado [{header}] no corresponde a ninguna tabla conocida (una tabla se reconoce por: {sigs})",
    ),
    "no_table_xlsx": (
        "header [{header}] matches no known table (a table is recognised by: {sigs}); in a workbook the"
        " header must be row 1 of the first sheet",
        "el encabezado [{header}] no corresponde a ninguna tabla conocida (una tabla se reconoce por:"
        " {sigs}); en un libro de Excel el encabezado debe estar en la fila 1 de la primera hoja",
    ),
    "near_table": (
        "the header lacks column(s) {missing} of table {table} (a {table} file is recognised by: {sig})",
        "al encabezado le faltan la(s) columna(s) {missing} de la tabla {table} (un archivo de {table} se"
        " reconoce por: {sig})",
    ),
    "required": (
        "required column '{col}' of table {table} is missing from the header",
        "falta en el encabezado la columna obligatoria '{col}' de la tabla {table}",
    ),
    "repeated_column": (
        "column {col} appears more than once in the header ({spellings})",
        "la columna {col} aparece más de una vez en el encabezado ({spellings})",
    ),
    "fewer_fields": (
        "row has fewer fields ({found}) than the header's {n} (truncated line?)",
        "la fila tiene menos campos ({found}) que los {n} del encabezado (¿línea truncada?)",
    ),
    "more_fields": (
        "row has more fields ({found}) than the header's {n} (unquoted separator in a value?)",
        "la fila tiene más campos ({found}) que los {n} del encabezado (¿separador sin comillas en un valor?)",
    ),
    "quoting": ("malformed quoting: {detail}", "comillas mal formadas: {detail}"),
    "csv_error": ("{kind}: {detail}", "error de lectura CSV ({kind}): {detail}"),
    "workbook": ("cannot read workbook: {error}", "no se puede leer el libro de Excel: {error}"),
    "unsupported": (
        "{suffix} files cannot be read: save it as .xlsx or CSV",
        "no se pueden leer archivos {suffix}: guárdelo como .xlsx o CSV",
    ),
}


def msg(message: str, /, *values: object, **fields: object) -> tuple[str, str]:
    """(English, Spanish) text of problem ``message`` (a :data:`MESSAGES` key)."""
    en, es = MESSAGES[message]
    return en.format(*values, **fields), es.format(*values, **fields)


@dataclass
class Mapping:
    """Which source column feeds each canonical column of the table."""

    spec: TableSpec
    source: dict[str, int]  # canonical column -> source index
    source_types: list[str]
    header: list[str]
    typed_file: bool = False  # Parquet (see parse_expr)

    @property
    def present(self) -> list[str]:
        return [c for c in self.spec.columns if c in self.source]


def typed_view(con: duckdb.DuckDBPyConnection, stage_view: str, m: Mapping, name: str) -> None:
    """Create view ``name``: ``_line``, canonical columns typed, and ``_raw_<col>`` text for reports."""
    sel = ["_line"]
    for col, typ in m.spec.columns.items():
        if col in m.source:
            i = m.source[col]
            e = parse_expr(f"c{i}", m.source_types[i], typ, m.typed_file)
            if (m.spec.name, col) in DECIMAL_CODES and typ == "VARCHAR":
                comma = f"regexp_full_match({e}, '[0-9]+,[0-9]+')"
                e = f"CASE WHEN {comma} THEN replace({e}, ',', '.') ELSE {e} END"
            sel.append(f"{e} AS {_q(col)}")
        else:
            sel.append(f"NULL::{typ} AS {_q(col)}")
    for col in m.present:
        typ = m.spec.columns[col]
        if typ != "VARCHAR":
            i = m.source[col]
            raw = f"c{i}" if m.source_types[i].upper() in _TEXTUAL else f"CAST(c{i} AS VARCHAR)"
            sel.append(f"{raw} AS {_q('_raw_' + col)}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {', '.join(sel)} FROM {stage_view}")


Rule = tuple[str, str, str, str, dict[str, object], list[str]]


def _rules(m: Mapping) -> list[Rule]:
    """(rule id, column, SQL condition that flags a bad row, :data:`MESSAGES` key, its named fields,
    SQL expressions of the values it shows as ``{0}``, ``{1}``)."""
    spec = m.spec
    rules: list[Rule] = []
    for col in m.present:
        typ = spec.columns[col]
        raw = _q("_raw_" + col)
        text = m.source_types[m.source[col]].upper() in _TEXTUAL
        if typ != "VARCHAR" and not cast_cannot_fail(m.source_types[m.source[col]], typ):
            present = f"({_missing_as_null(raw)}) IS NOT NULL" if text else f"{raw} IS NOT NULL"
            bad = f"{present} AND {_q(col)} IS NULL"
            if text and typ in ("DOUBLE", "BIGINT", "INTEGER"):
                thousands = f"coalesce(regexp_full_match(trim({raw}), {_lit(THOUSANDS_RE)}), false)"
                rules.append((f"thousands:{col}", col, f"{bad} AND {thousands}", "thousands", {}, [raw]))
                bad = f"{bad} AND NOT {thousands}"
            rules.append(
                (
                    f"type:{col}",
                    col,
                    bad,
                    "type",
                    {"what": _type_word(typ), "what_es": _type_word(typ, "es")},
                    [raw],
                )
            )
        if typ in ("DATE", "TIMESTAMP"):
            lo, hi = YEAR_RANGE
            rules.append(
                (
                    f"year:{col}",
                    col,
                    f"{_q(col)} IS NOT NULL AND (year({_q(col)}) < {lo} OR year({_q(col)}) > {hi})",
                    # a text value is shown as written ('12/01/19' read as 0012-01-19 is a 2-digit year)
                    "year_text" if text else "year",
                    {"lo": lo, "hi": hi},
                    [f"trim({raw})", f"{_q(col)}::VARCHAR"] if text else [f"{_q(col)}::VARCHAR"],
                )
            )
    for col in spec.key or ():
        if col in m.source and (spec.name, col) not in NULLABLE_KEY:
            rules.append(
                (
                    f"null:{col}",
                    col,
                    f"{_q(col)} IS NULL AND NOT ({_rule_type_bad(m, col)})",
                    "null_key",
                    {},
                    [],
                )
            )
    for col in spec.non_negative:
        if col in m.source:
            rules.append(
                (
                    f"neg:{col}",
                    col,
                    f"{_q(col)} < 0",
                    "negative",
                    {},
                    [f"{_q(col)}::VARCHAR"],
                )
            )
    if spec.lon_lat:
        for col, (lo, hi) in zip(spec.lon_lat, (LON_RANGE, LAT_RANGE), strict=True):
            if col in m.source:
                rules.append(
                    (
                        f"range:{col}",
                        col,
                        f"{_q(col)} < {lo} OR {_q(col)} > {hi}",
                        "range",
                        {"lo": lo, "hi": hi},
                        [f"{_q(col)}::VARCHAR"],
                    )
                )
    pair = ORDERED_PAIRS.get(spec.name)
    if pair and pair[0] in m.source and pair[1] in m.source:
        a, b = (_q(c) for c in pair)
        rules.append(
            (
                f"order:{pair[1]}",
                pair[1],
                f"{b} < {a}",
                "order",
                {"a": pair[0], "b": pair[1]},
                [f"{b}::VARCHAR", f"{a}::VARCHAR"],
            )
        )
    return rules


_INTS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER")
_TIMES = ("DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP WITH TIME ZONE")


def cast_cannot_fail(src_type: str, target: str) -> bool:
    """True when casting a typed (Parquet) column to ``target`` never yields NULL from a value.

    Such columns need no type rule, so every remaining rule reads canonical columns only and can
    run on the stored rows (see ``ingest``'s fast path).
    """
    s = src_type.upper()
    if s == target:
        return True
    if target == "DOUBLE" and (s in _INTS or s in ("FLOAT", "DOUBLE") or s.startswith("DECIMAL")):
        return True
    if target == "BIGINT" and s in _INTS:
        return True
    if target == "INTEGER" and s in ("TINYINT", "SMALLINT", "UTINYINT", "USMALLINT"):
        return True
    return target in ("DATE", "TIMESTAMP") and s in _TIMES


def needs_source(m: Mapping) -> bool:
    """Whether some rule must see the file's raw values (then rules cannot run on stored rows)."""
    return any(
        m.spec.columns[c] != "VARCHAR"
        and not cast_cannot_fail(m.source_types[m.source[c]], m.spec.columns[c])
        for c in m.present
    )


def count_problems(con: duckdb.DuckDBPyConnection, relation: str, m: Mapping) -> int:
    """Number of rule violations plus duplicate-key screen hits over ``relation`` (canonical columns).

    Used on the rows just inserted into an empty table; 0 means the file is clean. Requires
    ``not needs_source(m)``.
    """
    rules = _rules(m)
    total = 0
    if rules:
        total += sum(
            con.execute(
                f"SELECT {', '.join(f'count_if({r[2]})' for r in rules)} FROM {relation}"
            ).fetchone()
        )
    if m.spec.key:
        keys = ", ".join(_q(c) for c in m.spec.key)
        total += con.execute(
            f"SELECT count(*) FROM (SELECT hash({keys}) AS h FROM {relation} GROUP BY h HAVING count(*) > 1)"
        ).fetchone()[0]
    return int(total)


def _rule_type_bad(m: Mapping, col: str) -> str:
    """Condition true when ``col`` failed to parse (so a null key is not reported twice)."""
    if m.spec.columns[col] == "VARCHAR" or cast_cannot_fail(
        m.source_types[m.source[col]], m.spec.columns[col]
    ):
        return "false"
    raw = _q("_raw_" + col)
    return f"({_missing_as_null(raw)}) IS NOT NULL"


def check_rows(con: duckdb.DuckDBPyConnection, typed: str, m: Mapping, probs: FileProblems) -> None:
    """Row-level rules (types, dates, missing keys, negatives, coordinates, start <= end)."""
    rules = _rules(m)
    if not rules:
        return
    aggs = ", ".join(f"count_if({r[2]})" for r in rules)
    counts = con.execute(f"SELECT {aggs} FROM {typed}").fetchone()
    for (_, col, cond, key, fields, values), n in zip(rules, counts, strict=True):
        if not n:
            continue
        shown = "".join(f", {v}" for v in values)
        rows = con.execute(
            f"SELECT _line{shown} FROM {typed} WHERE {cond} ORDER BY _line LIMIT {EXAMPLES_PER_RULE}"
        ).fetchall()
        label = m.header[m.source[col]] if col in m.source else col
        for k, (line, *vals) in enumerate(rows):
            en, es = msg(key, *("NULL" if v is None else v for v in vals), **fields)
            probs.add(line, label, en, count=1 if k < len(rows) - 1 else n - len(rows) + 1, es=es)


def _key_cols(spec: TableSpec) -> list[str]:
    return list(spec.key) if spec.key else list(spec.columns)


def check_duplicates(con: duckdb.DuckDBPyConnection, typed: str, m: Mapping, probs: FileProblems) -> None:
    """Rows of the file sharing a key (keyed tables only; identical rows are reported too)."""
    spec = m.spec
    if not spec.key:
        return  # rows identified by content: identical rows are legitimate repeats (e.g. two trees)
    keys = ", ".join(_q(c) for c in spec.key)
    allc = ", ".join(_q(c) for c in spec.columns)
    # Fast screen on one 64-bit hash per key (grouping on strings + dates is ~3x slower on the
    # 4 M-row snapshot tables); a hash collision only triggers the exact check below.
    n = con.execute(
        f"SELECT count(*) FROM (SELECT hash({keys}) AS h FROM {typed} GROUP BY h HAVING count(*) > 1)"
    ).fetchone()[0]
    if not n:
        return
    n = con.execute(
        f"SELECT count(*) FROM (SELECT {keys} FROM {typed} GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone()[0]
    if not n:
        return
    rows = con.execute(
        f"""SELECT first_line, dup_line, same, k FROM (
              SELECT _line AS dup_line,
                     min(_line) OVER w AS first_line,
                     count(DISTINCT row({allc})) OVER (PARTITION BY {keys}) = 1 AS same,
                     {_key_text(spec)} AS k
              FROM {typed} WINDOW w AS (PARTITION BY {keys}))
            WHERE dup_line > first_line ORDER BY dup_line LIMIT {EXAMPLES_PER_RULE}"""
    ).fetchall()
    total = con.execute(
        f"SELECT sum(c - 1) FROM (SELECT count(*) AS c FROM {typed} GROUP BY {keys} HAVING count(*) > 1)"
    ).fetchone()[0]
    col = m.header[m.source[spec.key[0]]]
    for j, (first, dup, same, k) in enumerate(rows):
        en, es = msg("dup_row", first=first) if same else msg("dup_key", key=k, first=first)
        probs.add(dup, col, en, count=1 if j < len(rows) - 1 else int(total) - len(rows) + 1, es=es)


def _key_text(spec: TableSpec, prefix: str = "") -> str:
    parts = " || ', ' || ".join(
        f"'{c}=' || coalesce({prefix}{_q(c)}::VARCHAR, 'NULL')" for c in (spec.key or ())
    )
    return f"'(' || {parts} || ')'"


def _join_on(spec: TableSpec, a: str, b: str) -> str:
    return " AND ".join(f"{a}.{_q(c)} IS NOT DISTINCT FROM {b}.{_q(c)}" for c in _key_cols(spec))


def check_store_conflicts(
    con: duckdb.DuckDBPyConnection, typed: str, m: Mapping, probs: FileProblems, earlier: list[str] | None = None
) -> int:
    """Rows whose key is already stored with different values (error) or identical (skipped).

    ``earlier``: files of the same batch that already inserted rows into this table (named in the
    problem, since their rows are not in the store before the batch commits). Returns the number of
    identical rows already in the store (they will not be inserted again).
    """
    spec = m.spec
    if con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {_q(spec.name)} LIMIT 1)").fetchone()[0] == 0:
        return 0
    cols = list(spec.columns)
    nrow = "row(" + ", ".join(f"n.{_q(c)}" for c in cols) + ")"
    srow = "row(" + ", ".join(f"s.{_q(c)}" for c in cols) + ")"
    if not spec.key:
        # Content-identified rows: a stored identical row is a duplicate; nothing can conflict.
        same = con.execute(
            f"SELECT count(*) FROM (SELECT {', '.join(_q(c) for c in cols)} FROM {typed} "
            f"INTERSECT ALL SELECT {', '.join(_q(c) for c in cols)} FROM {_q(spec.name)})"
        ).fetchone()[0]
        return int(same)
    join = f"FROM {typed} n JOIN {_q(spec.name)} s ON {_join_on(spec, 'n', 's')}"
    # Whole-row comparison first (cheap); rows it flags are compared column by column, numbers with
    # a relative tolerance: the same export saved through Excel (15 significant digits) or printed
    # with fewer decimals is the same data, not a conflict.
    differs = {c: _value_differs(c, t) for c, t in spec.columns.items()}
    diff_cond = f"{nrow} IS DISTINCT FROM {srow} AND ({' OR '.join(differs.values())})"
    same, diff = con.execute(f"SELECT count(*) - count_if({diff_cond}), count_if({diff_cond}) {join}").fetchone()
    if diff:
        kt = _key_text(spec, "n.")
        differ = ", ".join(f"CASE WHEN {cond} THEN {_lit(c)} END" for c, cond in differs.items())
        rows = con.execute(
            f"SELECT n._line, {kt}, concat_ws(', ', {differ}) "
            f"{join} WHERE {diff_cond} ORDER BY n._line LIMIT {EXAMPLES_PER_RULE}"
        ).fetchall()
        col = m.header[m.source[spec.key[0]]]
        for j, (line, k, cols_differ) in enumerate(rows):
            if earlier:
                en, es = msg("conflict_batch", key=k, cols=cols_differ, files=", ".join(earlier))
            else:
                en, es = msg("conflict", key=k, cols=cols_differ)
            probs.add(line, col, en, count=1 if j < len(rows) - 1 else int(diff) - len(rows) + 1, es=es)
    _check_seconds_lost(con, typed, m, probs)
    return int(same or 0)


def _check_seconds_lost(con: duckdb.DuckDBPyConnection, typed: str, m: Mapping, probs: FileProblems) -> None:
    """New rows whose key differs from a stored row's only in the seconds of a time key column.

    Excel saves a date-time cell as it is displayed, by default ``d/mm/yyyy h:mm``: an export that went
    through Excel has ``inicio`` without its seconds. Its key then matches no stored row and the
    overlapping months' events would be stored a second time (every SAIFI doubled there)."""
    spec = m.spec
    for t in [c for c in spec.key or () if spec.columns[c] == "TIMESTAMP" and c in m.source]:
        a, b = f"n.{_q(t)}", f"s.{_q(t)}"
        # The file went through Excel when none of its times has seconds; then a stored row with
        # seconds in the same minute is the same row. Otherwise only a stored row without seconds (the
        # earlier load went through Excel) against one of the file's rows with seconds.
        file_has_seconds = con.execute(
            f"SELECT count_if(date_trunc('minute', {_q(t)}) <> {_q(t)}) > 0 FROM {typed}"
        ).fetchone()[0]
        lost = f"date_trunc('minute', {b}) = {b}" if file_has_seconds else f"date_trunc('minute', {b}) <> {b}"
        others = " AND ".join(f"n.{_q(c)} IS NOT DISTINCT FROM s.{_q(c)}" for c in spec.key if c != t)
        near = (
            f"{others + ' AND ' if others else ''}date_trunc('minute', {a}) = date_trunc('minute', {b}) "
            f"AND {a} <> {b} AND {lost}"
        )
        cond = f"{near} AND NOT EXISTS (SELECT 1 FROM {_q(spec.name)} x WHERE {_join_on(spec, 'n', 'x')})"
        sql = f"FROM {typed} n JOIN {_q(spec.name)} s ON {near} WHERE {cond}"
        n = con.execute(f"SELECT count(DISTINCT n._line) {sql}").fetchone()[0]
        if not n:
            continue
        rows = con.execute(
            f"SELECT n._line, any_value({_key_text(spec, 'n.')}), min({b})::VARCHAR {sql} "
            f"GROUP BY n._line ORDER BY n._line LIMIT {EXAMPLES_PER_RULE}"
        ).fetchall()
        label = m.header[m.source[t]]
        for j, (line, k, stored) in enumerate(rows):
            en, es = msg("seconds_lost", key=k, col=t, stored=stored)
            probs.add(line, label, en, count=1 if j < len(rows) - 1 else int(n) - len(rows) + 1, es=es)


# Relative difference below which two stored numbers are the same value (Excel keeps 15 digits).
REL_TOL = 1e-9


def _value_differs(col: str, typ: str) -> str:
    """SQL condition: column ``col`` of the new row ``n`` differs from the stored row ``s``."""
    a, b = f"n.{_q(col)}", f"s.{_q(col)}"
    if typ == "VARCHAR":
        # numeric codes stored as text ('causa' 30.0 in CHEC's export) come back from an Excel round
        # trip as '30': the same code, not a conflict (the stored text is kept)
        return (f"({a} IS DISTINCT FROM {b} AND NOT coalesce(TRY_CAST({a} AS DOUBLE) = TRY_CAST({b} AS DOUBLE), "
                "false))")
    if typ != "DOUBLE":
        return f"{a} IS DISTINCT FROM {b}"
    return (
        f"({a} IS DISTINCT FROM {b} AND coalesce(abs({a} - {b}) > {REL_TOL} * greatest(abs({a}), abs({b})), true))"
    )


def insert_new_rows(con: duckdb.DuckDBPyConnection, typed: str, spec: TableSpec, store_empty: bool) -> int:
    """Insert the file's rows that are not already stored; returns rows inserted."""
    cols = ", ".join(_q(c) for c in spec.columns)
    before = con.execute(f"SELECT count(*) FROM {_q(spec.name)}").fetchone()[0]
    if store_empty:
        con.execute(f"INSERT INTO {_q(spec.name)} ({cols}) SELECT {cols} FROM {typed}")
    elif spec.key:
        ncols = ", ".join(f"n.{_q(c)}" for c in spec.columns)
        con.execute(
            f"INSERT INTO {_q(spec.name)} ({cols}) SELECT {ncols} FROM {typed} n "
            f"ANTI JOIN {_q(spec.name)} s ON {_join_on(spec, 'n', 's')}"
        )
    else:
        con.execute(
            f"INSERT INTO {_q(spec.name)} ({cols}) SELECT {cols} FROM {typed} "
            f"EXCEPT ALL SELECT {cols} FROM {_q(spec.name)}"
        )
    after = con.execute(f"SELECT count(*) FROM {_q(spec.name)}").fetchone()[0]
    return int(after - before)
