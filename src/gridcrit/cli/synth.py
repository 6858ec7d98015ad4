"""CLI commands of the synthetic twin (thin shell over `gridcrit.data.synth`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
