"""Options and output helpers shared by every ``gridcrit`` command.

Conventions (every command): ``--store PATH`` (default ``gridcrit.duckdb`` or ``$GRIDCRIT_STORE``),
``--out PATH`` for files it writes, ``--json`` for machine-readable output on stdout, and on failure a
one-line reason on stderr with a non-zero exit code (raised as :class:`gridcrit.errors.GridcritError`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

DEFAULT_STORE = "gridcrit.duckdb"

StoreOpt = Annotated[
    Path,
    typer.Option(
        "--store",
        envvar="GRIDCRIT_STORE",
        help="DuckDB store file / archivo del almacén DuckDB.",
        show_default=True,
    ),
]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Where to write results / dónde escribir los resultados.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout / salida JSON.")]
LANGS = ("es", "en")


def check_lang(value: str | None) -> str:
    """``--lang`` (or ``$GRIDCRIT_LANG``): ``es`` (default) or ``en``; anything else is a usage error."""
    if value is None or value == "":
        return "es"
    v = str(value).strip().lower()
    if v not in LANGS:
        raise typer.BadParameter(
            f"{value!r} is not a supported language; use {' | '.join(LANGS)} "
            f"/ idioma no soportado; use {' | '.join(LANGS)}"
        )
    return v


LangOpt = Annotated[
    str,
    typer.Option(
        "--lang", envvar="GRIDCRIT_LANG", callback=check_lang, help="Language of texts: es | en / idioma: es | en."
    ),
]

console = Console()  # human output (stdout)
err_console = Console(stderr=True)


@contextmanager
def busy(quiet: bool, text: str) -> Iterator[None]:
    """A spinner with the elapsed time on stderr while a long step runs (model fits, explanations,
    topology): nothing with ``--json`` or when stderr is not a terminal, and nothing left behind
    when the step ends. Lines printed meanwhile (e.g. the one-off kernel build notice) appear above it."""
    if quiet or not err_console.is_terminal:
        yield
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err_console,
                  transient=True) as bar:
        bar.add_task(text, total=None)
        yield


def default_store() -> Path:
    return Path(os.environ.get("GRIDCRIT_STORE", DEFAULT_STORE))


def _jsonable(o: Any) -> Any:
    if isinstance(o, (datetime, date)):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "item"):  # numpy scalar
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if hasattr(o, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(o)
    return str(o)


def to_json(obj: Any) -> str:
    """Serialise ``obj`` as JSON (NaN -> null, numpy/pandas/dates handled)."""

    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(json.loads(json.dumps(obj, default=_jsonable))), ensure_ascii=False)


def emit(result: Any, as_json: bool, human: Callable[[Any], None] | None = None) -> None:
    """Print ``result`` as one JSON document (``--json``) or through ``human`` (rich output)."""
    if as_json:
        typer.echo(to_json(result))
    elif human is not None:
        human(result)
    else:
        console.print(result)


def fmt_count(n: Any) -> str:
    """A count with thousands separators (``5,423``), the same way in every table and line."""
    try:
        return f"{int(n):,}"
    except (TypeError, ValueError):
        return str(n)


_CHECK = {
    "date": {
        "es": "{opt} {value!r}: fecha no válida; use AAAA-MM-DD (p. ej. 2024-06-30)",
        "en": "{opt} {value!r}: not a valid date; use YYYY-MM-DD (e.g. 2024-06-30)",
    },
    "out_suffix": {
        "es": "{opt} {value}: use un nombre de archivo {suffixes}",
        "en": "{opt} {value}: use a {suffixes} file name",
    },
}


def check_date(value: str | None, opt: str, lang: str = "es") -> str | None:
    """``value`` if it is a calendar date written ``YYYY-MM-DD`` (None passes), else a one-line
    :class:`~gridcrit.errors.ValidationError` naming the option."""
    import re

    from gridcrit.errors import ValidationError

    if value is None:
        return None
    v = str(value).strip()
    ok = re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) is not None
    if ok:
        try:
            date.fromisoformat(v)
        except ValueError:
            ok = False
    if not ok:
        raise ValidationError(translate(_CHECK, "date", lang, opt=opt, value=value))
    return v


def check_out_suffix(out: Path, opt: str, lang: str = "es", suffixes: tuple[str, ...] = (".parquet", ".csv")) -> str:
    """The lower-case suffix of ``out`` if it is one of ``suffixes``, else a one-line ValidationError."""
    from gridcrit.errors import ValidationError

    suf = Path(out).suffix.lower()
    if suf not in suffixes:
        joined = (" o " if lang == "es" else " or ").join(suffixes)
        raise ValidationError(translate(_CHECK, "out_suffix", lang, opt=opt, value=out, suffixes=joined))
    return suf


def translate(table: dict[str, dict[str, str]], key: str, lang: str, **kw: Any) -> str:
    """``table[key][lang]`` formatted with ``kw``; falls back to English for a language the table lacks."""
    texts = table[key]
    return texts.get(lang, texts["en"]).format(**kw)
