"""CLI commands of the registry stage (thin shell over `gridcrit.registry`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
