"""CLI commands of the web app (thin shell over `gridcrit.app`).

``gridcrit serve [--store S] [--host 127.0.0.1] [--port 8765] [--lang es|en] [--allow-host NAME ...]``
"""

from __future__ import annotations

from typing import Annotated

import typer

from gridcrit.cli.common import LangOpt, StoreOpt, console, default_store

LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Host headers answered when listening on loopback (IPv6 literals arrive bracketed): a page on another
# site whose name is re-bound to 127.0.0.1 (DNS rebinding) sends its own name and gets 400
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def _host_name(value: str) -> str:
    """An ``--allow-host`` value as the Host header's name is compared: lower case, without a ``:port``,
    an IPv6 literal in brackets; a wildcard only as ``*.domain`` (else every request would fail)."""
    from starlette._utils import parse_host_header

    from gridcrit.errors import ValidationError

    v = value.strip().lower()
    if v.count(":") > 1 and not v.startswith("["):
        v = f"[{v}]"
    parsed = parse_host_header(v)
    name = parsed.host if parsed is not None else ""
    if not name or ("*" in name and name != "*" and not (name.startswith("*.") and "*" not in name[1:])):
        raise ValidationError(f"--allow-host {value!r}: not a host name (e.g. gridcrit.lan, *.lan, [fe80::1])",
                              es=f"--allow-host {value!r}: no es un nombre de host (p. ej. gridcrit.lan, *.lan, [fe80::1])")
    return name


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""

    @app.command("serve")
    def serve(
        store: StoreOpt = None,
        host: Annotated[str, typer.Option("--host", help="Address to listen on / dirección de escucha.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="TCP port / puerto.")] = 8765,
        lang: LangOpt = "es",
        allow_host: Annotated[list[str] | None, typer.Option("--allow-host", help=(
            "Another Host name to answer (repeatable; e.g. a reverse proxy's name). On loopback only "
            "127.0.0.1 / localhost / [::1] are answered by default / otro nombre de host aceptado."))] = None,
        warm: Annotated[bool, typer.Option("--warm/--no-warm", help=(
            "Build the champion's ranking in the background at start (minutes on a CHEC-size store) / "
            "precalcular el ranking del campeón al arrancar."))] = True,
    ) -> None:
        """REST API + web dashboard (maps, rankings, explanations, chat) / API REST y tablero web."""
        import uvicorn

        from gridcrit.app.api import create_app
        from gridcrit.errors import NotFoundError

        path = store or default_store()
        if not path.exists():
            raise NotFoundError(f"store {path} does not exist; create it with 'gridcrit ingest' or 'gridcrit demo'")
        extra = [_host_name(h) for h in (allow_host or []) if h.strip()]
        # beyond loopback the names it is reached by are not known here: any, unless --allow-host lists them
        # (added to the loopback names, as on loopback)
        allowed = [*LOOPBACK_HOSTS, *extra] if host in LOOPBACK or extra else None
        web = create_app(path, lang=lang, allowed_hosts=allowed)
        if host not in LOOPBACK:
            # the API has no authentication: say so loudly when it listens beyond this machine
            console.print(f"[yellow]warning: listening on {host} — the API has no authentication[/yellow]")
        console.print(f"gridcrit dashboard: http://{'[' + host + ']' if ':' in host else host}:{port}/  (store {path})", soft_wrap=True, markup=False)
        if warm:  # requests that need the same build wait for it instead of starting a second one
            import threading

            threading.Thread(target=web.state.warm, name="gridcrit-warm", daemon=True).start()
        uvicorn.run(web, host=host, port=port, log_level="warning")
