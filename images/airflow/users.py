#!/usr/bin/env python
"""baton-airflow-user NAME ROLE: create an Airflow user (FAB auth manager), or bring one up to date.

The password comes from the environment, BATON_USER_PASSWORD, never from the command line (a
command line shows in `ps`, ECS task descriptions and logs), and is never printed. An existing
user gets that password and exactly that role, so running it again with a new value rotates the
password and with another role changes the role. `make user NAME= ROLE=` runs it in the sandbox;
on ECS it runs as a one-off task (docs/cloud.md). baton-airflow-init uses `ensure_user` for the
first admin and the automation account.
"""

from __future__ import annotations

import os
import sys

ROLES = ("Admin", "Op", "User", "Viewer")


class UserError(RuntimeError):
    pass


def ensure_user(sm, username: str, role_name: str, password: str, email: str | None = None) -> str:
    """Create `username` with `role_name` and `password` through FAB's security manager `sm`, or
    set both on the existing user. Returns what happened, in words without the password."""
    if not username:
        raise UserError("a user name is needed")
    if not password:
        raise UserError(f"no password for user {username!r}")
    role = sm.find_role(role_name)
    if role is None:
        raise UserError(f"{role_name!r} is not a role; roles are {', '.join(ROLES)}")
    user = sm.find_user(username=username)
    if user is None:
        created = sm.add_user(username, username, "-", email or f"{username}@baton.invalid", role, password)
        if not created:
            raise UserError(f"FAB could not create user {username!r} (see the log above)")
        return f"user {username}: created ({role_name})"
    done = []
    if [r.name for r in user.roles] != [role_name]:
        user.roles = [role]
        if not sm.update_user(user):
            raise UserError(f"FAB could not give user {username!r} the role {role_name}")
        done.append(f"role set to {role_name}")
    if not sm.check_password(username, password):
        if not sm.reset_password(user.id, password):
            raise UserError(f"FAB could not set the password of user {username!r}")
        done.append("password set")
    return f"user {username}: {', '.join(done) if done else f'unchanged ({role_name})'}"


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ROLES:
        print(f"usage: baton-airflow-user NAME {'|'.join(ROLES)}  (password in BATON_USER_PASSWORD)", file=sys.stderr)
        return 2
    name, role = argv
    password = os.environ.get("BATON_USER_PASSWORD", "")
    if not password:
        print("baton-airflow-user: error: BATON_USER_PASSWORD is empty: it carries the new password", file=sys.stderr)
        return 2
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    try:
        with get_application_builder() as appbuilder:
            print(f"baton-airflow-user: {ensure_user(appbuilder.sm, name, role, password)}", flush=True)
    except UserError as exc:
        print(f"baton-airflow-user: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
