"""Meltano state, with the guard rails a backfill needs. Runs in the Meltano project folder.

    state list                 every state id (backups end in ':backup')
    state get ID               the state of ID
    state set ID JSON          validate JSON, save the current state as ID:backup, then set it
    state clear ID             save the current state as ID:backup, then clear it
    state restore ID           put ID:backup back as the state of ID

Unknown ids and malformed JSON fail before anything changes. Empty arguments count as missing
(the Airflow state DAG passes every parameter, filled or not). Uses the meltano CLI
(BATON_MELTANO_BIN, default `meltano` on PATH), so it works wherever meltano does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

BACKUP_SUFFIX = ":backup"


class StateError(Exception):
    pass


def meltano(*args: str) -> str:
    binary = os.environ.get("BATON_MELTANO_BIN", "meltano")
    result = subprocess.run([binary, "state", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise StateError(f"`meltano state {' '.join(args[:2])}` failed:\n{result.stderr[-2000:]}")
    return result.stdout


def state_ids() -> list[str]:
    return [line.strip() for line in meltano("list").splitlines() if line.strip()]


def require_known(state_id: str) -> None:
    known = state_ids()
    if state_id not in known:
        listed = ", ".join(i for i in known if not i.endswith(BACKUP_SUFFIX)) or "none yet"
        raise StateError(f"unknown state id {state_id!r}; known ids: {listed}")


def parse_state(text: str) -> str:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(f"the new state is not valid JSON ({exc}); nothing was changed") from None
    if not isinstance(value, dict) or not isinstance(value.get("singer_state"), dict):
        raise StateError('the new state must be a JSON object {"singer_state": {...}}; nothing was changed')
    return json.dumps(value)


def backup(state_id: str) -> None:
    meltano("copy", "--force", state_id, state_id + BACKUP_SUFFIX)
    print(f"saved the previous state of {state_id} as {state_id}{BACKUP_SUFFIX}")


def run(action: str, state_id: str, payload: str) -> None:
    needs_id = action in ("get", "set", "clear", "restore")
    if action not in ("list", "get", "set", "clear", "restore"):
        raise StateError(f"unknown action {action!r}; use list, get, set, clear or restore")
    if needs_id and not state_id:
        raise StateError(f"`{action}` needs a state id (see `list`)")
    if action == "list":
        print("\n".join(state_ids()) or "(no state yet)")
    elif action == "get":
        require_known(state_id)
        print(meltano("get", state_id).strip())
    elif action == "set":
        if not payload:
            raise StateError("`set` needs the new state as JSON")
        new_state = parse_state(payload)
        require_known(state_id)
        backup(state_id)
        meltano("set", "--force", state_id, new_state)
        print(f"set the state of {state_id}; undo with: restore {state_id}")
    elif action == "clear":
        require_known(state_id)
        backup(state_id)
        meltano("clear", "--force", state_id)
        print(f"cleared the state of {state_id}; undo with: restore {state_id}")
    else:
        if state_id + BACKUP_SUFFIX not in state_ids():
            raise StateError(f"no backup of {state_id!r} to restore (set or clear save one)")
        meltano("copy", "--force", state_id + BACKUP_SUFFIX, state_id)
        print(f"restored the state of {state_id} from {state_id}{BACKUP_SUFFIX}")


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    action, state_id, payload = [*argv, "", "", ""][:3]
    try:
        run(action, state_id.strip(), payload.strip())
    except StateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
