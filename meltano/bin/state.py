"""Meltano state, with the guard rails a backfill needs. Runs in the Meltano project folder.

    state list                 every state id, each with its backups (newest first)
    state get ID               the state of ID
    state set ID JSON          validate JSON, back up the current state, then set it
    state clear ID             back up the current state, then clear it
    state restore ID [BACKUP]  back up the current state, then put BACKUP back (default: the newest
                               backup of ID); BACKUP is a backup id from `list` or its timestamp

Every set, clear and restore first keeps the current state as `ID:backup:<UTC timestamp>`, so any
step can be undone, a restore included. Unknown ids and malformed JSON fail before anything
changes. Empty arguments count as missing (the Airflow state DAG passes every parameter, filled or
not). Uses the meltano CLI (BATON_MELTANO_BIN, default `meltano` on PATH), so it works wherever
meltano does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

from baton_contract.state import singer_state

BACKUP = ":backup"  # ID:backup:<timestamp>; a plain ID:backup (older kits) still counts as a backup


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


def is_backup(state_id: str) -> bool:
    return BACKUP in state_id


def backups_of(state_id: str, ids: list[str]) -> list[str]:
    """The backups of state_id, newest first (timestamps sort as text; the legacy one last)."""
    prefix = state_id + BACKUP
    found = [i for i in ids if i == prefix or i.startswith(prefix + ":")]
    return sorted(found, key=lambda i: i.removeprefix(prefix), reverse=True)


def require_known(state_id: str, ids: list[str] | None = None) -> None:
    known = state_ids() if ids is None else ids
    if state_id not in known:
        listed = ", ".join(i for i in known if not is_backup(i)) or "none yet"
        raise StateError(f"unknown state id {state_id!r}; known ids: {listed}")


def parse_state(text: str) -> str:
    try:
        return json.dumps(singer_state(text))
    except ValueError as exc:
        raise StateError(f"{exc}; nothing was changed") from None


def backup(state_id: str, now: datetime | None = None) -> str:
    """Keep the current state of state_id as a timestamped backup; returns the backup id."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")
    target = f"{state_id}{BACKUP}:{stamp}"
    meltano("copy", "--force", state_id, target)
    print(f"kept the previous state of {state_id} as {target}")
    return target


def choose_backup(state_id: str, chosen: str, ids: list[str]) -> str:
    available = backups_of(state_id, ids)
    if not available:
        raise StateError(f"no backup of {state_id!r} to restore (set, clear and restore keep one)")
    if not chosen:
        return available[0]
    for candidate in (chosen, f"{state_id}{BACKUP}:{chosen}"):
        if candidate in available:
            return candidate
    raise StateError(f"{chosen!r} is not a backup of {state_id!r}; its backups: {', '.join(available)}")


def list_states(ids: list[str]) -> str:
    if not ids:
        return "(no state yet)"
    lines = []
    for state_id in sorted(i for i in ids if not is_backup(i)):
        lines.append(state_id)
        lines += [f"  backup {b}" for b in backups_of(state_id, ids)]
    orphans = sorted(i for i in ids if is_backup(i) and i.split(BACKUP)[0] not in ids)
    lines += [f"{i}  (backup of a cleared or unknown id)" for i in orphans]
    return "\n".join(lines)


def run(action: str, state_id: str, payload: str) -> None:
    needs_id = action in ("get", "set", "clear", "restore")
    if action not in ("list", "get", "set", "clear", "restore"):
        raise StateError(f"unknown action {action!r}; use list, get, set, clear or restore")
    if needs_id and not state_id:
        raise StateError(f"`{action}` needs a state id (see `list`)")
    if needs_id and is_backup(state_id):
        raise StateError(f"{state_id!r} is a backup; name the state id it belongs to")
    if action == "list":
        print(list_states(state_ids()))
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
        ids = state_ids()
        source = choose_backup(state_id, payload, ids)
        if state_id in ids:
            backup(state_id)
        meltano("copy", "--force", source, state_id)
        print(f"restored the state of {state_id} from {source}")


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    action, state_id, payload = [*argv, "", "", ""][:3]
    try:
        run(action, state_id.strip(), payload.strip())
        return 0
    except StateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
