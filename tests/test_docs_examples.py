"""The Python examples of the docs pages that need no store run as written (each page's blocks in
order, in a fresh directory): a renamed function or a changed signature breaks a test, not a reader."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
# pages whose Python blocks are self-contained (the others start from CLI commands that build a store)
SELF_CONTAINED = ["tabnet", "explanations", "models", "synth", "demo"]


def python_blocks(page: str) -> str:
    text = (DOCS / f"{page}.md").read_text(encoding="utf-8")
    return "\n".join(code for lang, code in re.findall(r"```(\w+)\n(.*?)```", text, re.S) if lang == "python")


@pytest.mark.slow
@pytest.mark.parametrize("page", SELF_CONTAINED)
def test_docs_python_examples_run(page, tmp_path):
    code = python_blocks(page)
    assert code.strip(), f"docs/{page}.md has no Python example"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GRIDCRIT_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, f"docs/{page}.md example failed:\n{r.stderr[-3000:]}"
