"""Running the npm reference signers with node, from the folder ``make test`` installs them in.

The folder is ``${XDG_CACHE_HOME:-$HOME/.cache}/eventbus/npm``, the Makefile's ``NPM_DIR``;
each signer is a small script in ``tests/node`` reading JSON on stdin and writing JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

NPM_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "eventbus" / "npm"
SCRIPTS = Path(__file__).parent / "node"


def run_node(script: str, payload: Any) -> Any:
    """Run ``tests/node/<script>.js`` with ``payload`` as JSON on stdin; return its JSON."""
    modules = NPM_DIR / "node_modules"
    if not modules.is_dir():
        raise RuntimeError(f"the npm reference signers are not in {modules}; run `make test`")
    done = subprocess.run(
        ["node", str(SCRIPTS / f"{script}.js")],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env={**os.environ, "NODE_PATH": str(modules)},
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"node {script}.js failed: {done.stderr}")
    return json.loads(done.stdout)
