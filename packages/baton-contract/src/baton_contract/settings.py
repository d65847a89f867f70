"""The kit's constants: KEY=VALUE lines of settings.env (no quotes, no spaces around '='), each
overridden by the environment for one run. Everything that reads settings.env reads it here."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def read_settings_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a settings file; {} where it is not reachable (an image, a DAG bundle)."""
    try:
        text = path.read_text()
    except OSError:
        return {}
    return {m.group(1): m.group(2) for line in text.splitlines() if (m := LINE.match(line.strip()))}


def setting(name: str, *files: Path, env: Mapping[str, str] | None = None) -> str | None:
    """A constant: the environment, else the first of `files` that sets it, else None."""
    env = os.environ if env is None else env
    if env.get(name):
        return env[name]
    for path in files:
        value = read_settings_file(path).get(name)
        if value:
            return value
    return None
