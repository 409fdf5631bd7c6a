"""Where the project's shared material (../shared beside the checkout) lives."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SHARED = Path(os.environ.get("CDS_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
EXAMPLES = SHARED / "cds-hooks" / "examples"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
