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
LangOpt = Annotated[
    str, typer.Option("--lang", envvar="GRIDCRIT_LANG", help="Language of texts: es | en / idioma: es | en.")
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


def translate(table: dict[str, dict[str, str]], key: str, lang: str, **kw: Any) -> str:
    """``table[key][lang]`` formatted with ``kw``; falls back to English for a language the table lacks."""
    texts = table[key]
    return texts.get(lang, texts["en"]).format(**kw)
