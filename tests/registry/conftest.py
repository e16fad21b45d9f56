"""Fixtures of the registry tests: small fitted recommenders, shared with the other suite."""

from __future__ import annotations

import runpy
from pathlib import Path

_shared = runpy.run_path(str(Path(__file__).parents[1] / "_serving_fixtures.py"))
plays = _shared["plays"]
model = _shared["model"]
other_model = _shared["other_model"]
make_plays = _shared["make_plays"]
