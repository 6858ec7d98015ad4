"""The ``gridcrit`` command line: a thin shell over the Python API.

Each stage registers its commands from its own module (``gridcrit.cli.<stage>``); this module builds
the Typer app and turns :class:`gridcrit.errors.GridcritError` into a one-line message on stderr and
a non-zero exit code.
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
from gridcrit.errors import GridcritError

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


def run(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit code (used by ``main`` and by tests)."""
    try:
        rc = cli_app(args=argv, prog_name="gridcrit", standalone_mode=False)
        return rc if isinstance(rc, int) else 0  # a typer.Exit(code) inside a command comes back as its code
    except GridcritError as e:
        text = e.text(_lang_of(argv))
        msg = text.splitlines()[0] if text else type(e).__name__
        sys.stderr.write(f"gridcrit: error: {msg}\n")
        return e.exit_code
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        sys.stderr.write("gridcrit: cancelado\n" if _lang_of(argv) == "es" else "gridcrit: aborted\n")
        return 130
    except ClickException as e:  # usage errors too: one line, with where to find the usage
        ctx = getattr(e, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        msg = " ".join(e.format_message().split())
        sys.stderr.write(f"gridcrit: error: {msg}{hint}\n")
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("gridcrit: interrumpido\n" if _lang_of(argv) == "es" else "gridcrit: interrupted\n")
        return 130


def main() -> None:
    """Console-script entry point."""
    sys.exit(run(sys.argv[1:]))
