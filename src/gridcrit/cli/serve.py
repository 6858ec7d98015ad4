"""CLI commands of the web app (thin shell over `gridcrit.app`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
