"""The ``gridcrit`` command line: a thin shell over the Python API.

Each stage registers its commands from its own module (``gridcrit.cli.<stage>``); this module builds
the Typer app and turns :class:`gridcrit.errors.GridcritError` into a one-line message on stderr and
a non-zero exit code (with ``--json``, also a JSON error object on stdout).
"""

from __future__ import annotations

import os
import sys

import typer

try:  # typer >= 0.20 vendors click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click import ClickException  # type: ignore[no-redef]

from gridcrit import __version__
from gridcrit.errors import GridcritError, ValidationError

cli_app = typer.Typer(
    name="gridcrit",
    help="Criticality analysis of MV distribution networks / Análisis de criticidad de redes de media tensión.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gridcrit {__version__}")
        raise typer.Exit()


@cli_app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show version."),
    threads: int = typer.Option(
        None, "--threads", envvar="GRIDCRIT_THREADS", min=1,
        help="Threads for torch/BLAS/GBDT, at least 1 (default: 1 on 2 cores) / hilos de cálculo, al menos 1.",
    ),
) -> None:
    """gridcrit: data → reliability → features → models → explain → registry → assistant."""
    from gridcrit.runtime import configure_threads

    configure_threads(threads)


def _register_all() -> None:
    import importlib

    # One module per stage; each adds its commands in register(app).
    for name in ("data", "synth", "reliability", "dataset", "models", "explain", "registry", "assistant", "serve", "demo"):
        importlib.import_module(f"gridcrit.cli.{name}").register(cli_app)
    _catch_ctrl_c(cli_app)


class _CtrlCError(GridcritError):
    exit_code = 130


def _catch_ctrl_c(app: typer.Typer) -> None:
    """Wrap every command so Ctrl-C reaches :func:`run` as an error it reports in one line (Typer itself
    turns a KeyboardInterrupt into a silent exit 130)."""
    import functools

    def wrap(f):
        @functools.wraps(f)
        def command(*args, **kwargs):
            try:
                return f(*args, **kwargs)
            except KeyboardInterrupt:
                raise _CtrlCError("interrupted", es="interrumpido") from None
        return command

    for info in app.registered_commands:
        if info.callback is not None:
            info.callback = wrap(info.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _catch_ctrl_c(group.typer_instance)


_register_all()
# `app` is the conventional name; run() uses cli_app so that a submodule named gridcrit.cli.app cannot shadow it.
app = cli_app


def _lang_of(argv: list[str] | None) -> str:
    """The language a failed command was asked for (``--lang`` or ``$GRIDCRIT_LANG``; default es)."""
    args = list(sys.argv[1:] if argv is None else argv)
    for i, a in enumerate(args):
        if a == "--lang" and i + 1 < len(args):
            return args[i + 1].lower()
        if a.startswith("--lang="):
            return a.split("=", 1)[1].lower()
    return os.environ.get("GRIDCRIT_LANG", "es").lower()


class _StdoutWatch:
    """``sys.stdout`` while a ``--json`` command runs: notes whether the command printed anything, so a
    failure can print its JSON error object only where stdout would otherwise be empty (one document)."""

    def __init__(self, stream):
        self._stream, self.written = stream, False

    def write(self, s: str) -> int:
        self.written = self.written or bool(s)
        return self._stream.write(s)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _json_error(watch: _StdoutWatch | None, message: str, code: int, e: BaseException | None = None,
                lang: str = "es", kind: str | None = None) -> None:
    """With ``--json``, a failed command prints ``{"error": ..., "exit_code": ...}`` on stdout (the one-line
    reason stays on stderr), plus ``problems`` (file, row, column lines) for validation errors: scripts
    parsing stdout get a document either way."""
    if watch is None or watch.written:
        return
    from gridcrit.cli.common import to_json

    if kind is None:
        kind = "Interrupted" if isinstance(e, _CtrlCError) else type(e).__name__ if e is not None else "UsageError"
    doc: dict = {"error": message, "exit_code": code, "kind": kind}
    if isinstance(e, ValidationError) and e.problems:
        doc["problems"] = e.problem_lines(lang)
        doc["n_problems"] = e.n_problems
    try:
        watch._stream.write(to_json(doc) + "\n")
    except UnicodeEncodeError:  # an ASCII-only stdout (PYTHONIOENCODING=ascii): escaped, still one document
        import json

        watch._stream.write(json.dumps(doc, ensure_ascii=True) + "\n")


def run(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit code (used by ``main`` and by tests)."""
    args = list(sys.argv[1:] if argv is None else argv)
    opts = args[: args.index("--")] if "--" in args else args  # after "--" a "--json" is an argument
    watch = _StdoutWatch(sys.stdout) if "--json" in opts else None
    if watch is not None:
        sys.stdout = watch
    try:
        return _run(argv, watch)
    finally:
        if watch is not None:
            _unwatch(watch)


def _unwatch(watch: _StdoutWatch) -> None:
    """Take ``watch`` out of ``sys.stdout``, also where another run() (a thread) wrapped it meanwhile."""
    if sys.stdout is watch:
        sys.stdout = watch._stream
        return
    s = sys.stdout
    while isinstance(s, _StdoutWatch):
        if s._stream is watch:
            s._stream = watch._stream
            return
        s = s._stream


def _interrupted(argv: list[str] | None) -> str:
    return "interrumpido" if _lang_of(argv) == "es" else "interrupted"


def _exited(watch: _StdoutWatch | None, argv: list[str] | None, code: int) -> int:
    """``code`` of a command that ended with typer.Exit (e.g. ingest's Ctrl-C, 130: its reason already on
    stderr); a non-zero one still gets its JSON error document."""
    if code:
        _json_error(watch, _interrupted(argv) if code == 130 else f"exit code {code}", code,
                    kind="Interrupted" if code == 130 else "Exit")
    return code


def _run(argv: list[str] | None, watch: _StdoutWatch | None) -> int:
    try:
        rc = cli_app(args=argv, prog_name="gridcrit", standalone_mode=False)
        # a typer.Exit(code) inside a command comes back as its code
        return _exited(watch, argv, rc if isinstance(rc, int) else 0)
    except GridcritError as e:
        text = e.text(_lang_of(argv))
        msg = text.splitlines()[0] if text else type(e).__name__
        sys.stderr.write(f"gridcrit: error: {msg}\n")
        _json_error(watch, msg, e.exit_code, e, _lang_of(argv))
        return e.exit_code
    except typer.Exit as e:
        return _exited(watch, argv, e.exit_code)
    except typer.Abort:
        msg = "cancelado" if _lang_of(argv) == "es" else "aborted"
        sys.stderr.write(f"gridcrit: {msg}\n")
        _json_error(watch, msg, 130, kind="Aborted")
        return 130
    except ClickException as e:  # usage errors too: one line, with where to find the usage
        ctx = getattr(e, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        msg = " ".join(e.format_message().split())
        sys.stderr.write(f"gridcrit: error: {msg}{hint}\n")
        _json_error(watch, msg, e.exit_code, None)
        return e.exit_code
    except KeyboardInterrupt:
        msg = _interrupted(argv)
        sys.stderr.write(f"gridcrit: {msg}\n")
        _json_error(watch, msg, 130, None, kind="Interrupted")
        return 130


def main() -> None:
    """Console-script entry point."""
    sys.exit(run(sys.argv[1:]))
