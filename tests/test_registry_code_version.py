"""Lineage: the code a version was trained with records whether the package had uncommitted changes."""

from __future__ import annotations

import subprocess

import pytest

from gridcrit.registry import registry as reg_mod


@pytest.mark.parametrize(("diff_rc", "dirty"), [(0, False), (1, True), (128, None)])
def test_code_version_says_whether_the_tree_was_dirty(monkeypatch, diff_rc, dirty):
    def fake_run(cmd, **kw):
        if cmd[:2] == ["git", "rev-parse"]:
            return subprocess.CompletedProcess(cmd, 0, stdout="abc123\n", stderr="")
        assert cmd[:3] == ["git", "diff", "--quiet"]
        return subprocess.CompletedProcess(cmd, diff_rc, stdout="", stderr="")

    monkeypatch.setattr(reg_mod.subprocess, "run", fake_run)
    cv = reg_mod.code_version()
    assert cv["git_commit"] == "abc123" and cv["git_dirty"] is dirty
