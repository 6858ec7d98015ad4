"""CLI commands of the assistant stage (thin shell over `gridcrit.assistant`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
