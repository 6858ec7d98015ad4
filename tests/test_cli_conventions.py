"""Conventions every command shares: version, help, one-line errors."""

from __future__ import annotations

from gridcrit.cli import run


def test_version(capsys):
    assert run(["--version"]) == 0
    assert "gridcrit" in capsys.readouterr().out


def test_unknown_command_fails(capsys):
    assert run(["no-such-command"]) != 0
