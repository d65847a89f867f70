"""Runs every `check_*` function of a checks module and writes {name: "ok" or the traceback} as JSON to
the file named by argv[1]. Run by a plugin's Python (its venv has singer-sdk; the test venv's need not)."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import traceback
import typing as t


def run(checks: dict[str, t.Callable[[], None]]) -> None:
    outcomes = {}
    for name, check in checks.items():
        if not name.startswith("check_"):
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                check()
            outcomes[name] = "ok"
        except BaseException:  # a SystemExit from the SDK is a finding too
            outcomes[name] = traceback.format_exc()
    with open(sys.argv[1], "w", encoding="utf-8") as fh:
        json.dump(outcomes, fh)
