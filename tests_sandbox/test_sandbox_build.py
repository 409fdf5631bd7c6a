"""The sandbox build in the shared folder is the one the repository's copy of its key set comes from."""

from __future__ import annotations

import json
from pathlib import Path

from tests_sandbox.harness import SANDBOX_BUILD, sandbox_key_set

SHIPPED = Path(__file__).resolve().parents[1] / "tests" / "data" / "sandbox-jwks.json"


def test_the_shipped_sandbox_key_set_is_the_one_the_build_publishes(site: str) -> None:
    """The main suite and the README's set-up use ``tests/data/sandbox-jwks.json``; the build signs with
    the private half of ``.well-known/jwks.json``. They must be the same keys."""
    assert (SANDBOX_BUILD / ".well-known" / "jwks.json").is_file()
    assert json.loads(SHIPPED.read_text(encoding="utf-8")) == sandbox_key_set()
