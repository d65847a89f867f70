"""The Meltano state the kit's state command sets (`state set ID JSON` in the jobs image, the
meltano_state DAG's `set`): a JSON object {"singer_state": {...}}. Both refuse anything else
before a job runs or a state changes."""

from __future__ import annotations

import json
from typing import Any


def singer_state(value: object, what: str = "the new state") -> dict[str, Any]:
    """`value` (JSON text, or the object itself) as a state; a ValueError names `what` and the fault."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{what} is not valid JSON ({exc})") from None
    if not isinstance(value, dict) or not isinstance(value.get("singer_state"), dict):
        raise ValueError(f'{what} must be a JSON object {{"singer_state": {{...}}}}')
    return value
