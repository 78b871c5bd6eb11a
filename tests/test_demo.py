"""``make demo``'s script runs to the end and tells the story it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.py"


def test_demo_shows_forwarding_with_the_apps_own_answers() -> None:
    """The tour ends cleanly; a failed handler is counted apart from the ones that succeeded;
    through the listener, the app's de-duplication and its 422 reach trigger, and the wrong
    secret is refused by the listener itself, what it shows of that body marked unverified."""
    result = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert 'trigger  200 OK {"ok":true,"outcome":"duplicate"' in out
    assert "forwarded: 422 Unprocessable Entity reason:" in out
    assert "trigger  401 Unauthorized" in out
    assert " (unverified) reason: signature verification failed" in out
    assert "-> handlers run=4 succeeded=4 failed=0 ok=True" in out
    assert "-> handlers run=2 succeeded=1 failed=1; raise_for_errors(): 1 of 2" in out
    assert "listen   Stopped after 5 deliveries" in out
    assert out.rstrip().endswith("exit status 0")
    assert result.stderr == ""
