"""CLI commands of the web app (thin shell over `gridcrit.app`).

``gridcrit serve [--store S] [--host 127.0.0.1] [--port 8765] [--lang es|en]``
"""

from __future__ import annotations

from typing import Annotated

import typer

from gridcrit.cli.common import LangOpt, StoreOpt, console, default_store

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""

    @app.command("serve")
    def serve(
        store: StoreOpt = None,
        host: Annotated[str, typer.Option("--host", help="Address to listen on / dirección de escucha.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="TCP port / puerto.")] = 8765,
        lang: LangOpt = "es",
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
        web = create_app(path, lang=lang)
        if host not in LOOPBACK:
            # the API has no authentication: say so loudly when it listens beyond this machine
            console.print(f"[yellow]warning: listening on {host} — the API has no authentication[/yellow]")
        console.print(f"gridcrit dashboard: http://{'[' + host + ']' if ':' in host else host}:{port}/  (store {path})", soft_wrap=True, markup=False)
        if warm:  # requests that need the same build wait for it instead of starting a second one
            import threading

            threading.Thread(target=web.state.warm, name="gridcrit-warm", daemon=True).start()
        uvicorn.run(web, host=host, port=port, log_level="warning")
