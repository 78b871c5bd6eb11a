"""The README's Python examples run as written."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


@pytest.mark.parametrize("source", BLOCKS, ids=[f"block-{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(
    source: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """Each ```python block executes without error (its asserts are the expectations); a
    block reading REDIS_URL gets the tests' own redis-server."""
    if "REDIS_URL" in source:
        monkeypatch.setenv("REDIS_URL", request.getfixturevalue("redis_url"))
    module = types.ModuleType("readme_example")
    monkeypatch.setitem(sys.modules, module.__name__, module)  # pydantic generics look it up
    exec(compile(source, str(README), "exec"), module.__dict__)


def test_readme_has_examples() -> None:
    """The README keeps a runnable quick start."""
    assert BLOCKS
