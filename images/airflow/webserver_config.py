"""The FAB auth manager's configuration ($AIRFLOW_HOME/webserver_config.py, [fab] config_file).

Users and roles live in Airflow's metadata database: Admin, Op, User, Viewer (FAB's roles; what
each may do: docs/sandbox.md, "Access"). Sign-in is by user name and password unless
BATON_OIDC_ISSUER names an OpenID Connect provider; then the login page sends people to that
provider, and their groups decide their roles at each sign-in:

    BATON_OIDC_ISSUER          https://login.example.com/realms/acme (its /.well-known/openid-configuration)
    BATON_OIDC_CLIENT_ID       the client registered at the provider for this Airflow
    BATON_OIDC_CLIENT_SECRET   its secret (Secrets Manager on ECS, compose/.env in the sandbox)
    BATON_OIDC_ROLES           JSON: group -> role(s), e.g. {"data-eng": "Op", "analysts": ["Viewer"]}
    BATON_OIDC_DEFAULT_ROLE    the role of someone in no mapped group (default Public: no access)
    BATON_OIDC_GROUPS_CLAIM    the claim holding the groups (default groups)
    BATON_OIDC_SCOPES          the scopes asked for (default "openid email profile")

The provider redirects back to <Airflow URL>/auth/oauth-authorized/oidc: register that URL.
The REST API's /auth/token keeps taking local users' passwords either way (the automation
account's, `make user`'s), so automation and local users keep working.

The User role here may trigger and clear every DAG but `meltano_state` (it moves Meltano's
bookmarks: Op and Admin only). FAB's stock User role edits every DAG; this one gets that right
per DAG, from the DAGs' access_control, which airflow_local_settings.py sets.
"""

import json
import os
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

ROLES = ("Admin", "Op", "User", "Viewer", "Public")
OIDC_PROVIDER = "oidc"
# FAB's AUTH_DB and AUTH_OAUTH (flask_appbuilder.const), spelled here so the settings below can be
# read and tested without Flask.
AUTH_DB = 1
AUTH_OAUTH = 4
# What FAB's stock User role may do to every DAG and this kit's User may only do per DAG.
USER_PER_DAG_ONLY = (("can_edit", "DAGs"), ("can_delete", "DAGs"))


class AccessConfigError(ValueError):
    """A BATON_OIDC_* setting that cannot work; the message names it."""


# A NamedTuple, not a dataclass: Flask executes this file outside any module (from_pyfile), where
# dataclasses cannot resolve their annotations.
class Oidc(NamedTuple):
    issuer: str
    client_id: str
    client_secret: str
    roles: dict[str, list[str]]
    default_role: str
    groups_claim: str
    scopes: str

    def provider(self) -> dict[str, Any]:
        """FAB's OAUTH_PROVIDERS entry: authlib reads the endpoints from the issuer's metadata."""
        return {
            "name": OIDC_PROVIDER,
            "icon": "fa-openid",
            "token_key": "access_token",
            "remote_app": {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "server_metadata_url": f"{self.issuer}/.well-known/openid-configuration",
                "client_kwargs": {"scope": self.scopes},
            },
        }


def _role(name: str, where: str) -> str:
    if name not in ROLES:
        raise AccessConfigError(f"{where}: {name!r} is not a role; roles are {', '.join(ROLES)}")
    return name


def oidc_from_env(env: Mapping[str, str]) -> Oidc | None:
    """The OIDC settings of BATON_OIDC_*; None when BATON_OIDC_ISSUER is empty (OIDC off)."""
    issuer = env.get("BATON_OIDC_ISSUER", "").strip().rstrip("/")
    if not issuer:
        return None
    if not issuer.startswith(("https://", "http://")):
        raise AccessConfigError(f"BATON_OIDC_ISSUER must be the provider's URL (https://...), not {issuer!r}")
    missing = [n for n in ("BATON_OIDC_CLIENT_ID", "BATON_OIDC_CLIENT_SECRET") if not env.get(n, "").strip()]
    if missing:
        raise AccessConfigError(f"BATON_OIDC_ISSUER is set but {' and '.join(missing)} not: the provider needs both")
    raw = env.get("BATON_OIDC_ROLES", "").strip() or "{}"
    try:
        mapping = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise AccessConfigError(f'BATON_OIDC_ROLES is not JSON ({exc}): e.g. {{"analysts": "Viewer"}}') from None
    if not isinstance(mapping, dict):
        raise AccessConfigError('BATON_OIDC_ROLES must be a JSON object of group -> role, e.g. {"analysts": "Viewer"}')
    roles: dict[str, list[str]] = {}
    for group, value in mapping.items():
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise AccessConfigError(f"BATON_OIDC_ROLES[{group!r}] must be a role or a list of roles")
        roles[group] = [_role(n, f"BATON_OIDC_ROLES[{group!r}]") for n in names]
    return Oidc(
        issuer=issuer,
        client_id=env["BATON_OIDC_CLIENT_ID"].strip(),
        client_secret=env["BATON_OIDC_CLIENT_SECRET"].strip(),
        roles=roles,
        default_role=_role(env.get("BATON_OIDC_DEFAULT_ROLE", "").strip() or "Public", "BATON_OIDC_DEFAULT_ROLE"),
        groups_claim=env.get("BATON_OIDC_GROUPS_CLAIM", "").strip() or "groups",
        scopes=env.get("BATON_OIDC_SCOPES", "").strip() or "openid email profile",
    )


def user_info(claims: Mapping[str, Any], groups_claim: str) -> dict[str, Any]:
    """FAB's user record from the provider's claims: the user name is preferred_username (else the
    e-mail, else the subject), the groups are role_keys, which AUTH_ROLES_MAPPING maps to roles."""
    groups = claims.get(groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    return {
        "username": claims.get("preferred_username") or claims.get("email") or claims.get("sub", ""),
        "email": claims.get("email", ""),
        "first_name": claims.get("given_name", ""),
        "last_name": claims.get("family_name", ""),
        "role_keys": list(groups),
    }


def flask_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The FAB settings that depend on the environment."""
    oidc = oidc_from_env(env)
    if oidc is None:
        return {"AUTH_TYPE": AUTH_DB}
    return {
        "AUTH_TYPE": AUTH_OAUTH,
        "OAUTH_PROVIDERS": [oidc.provider()],
        # Someone the provider vouches for gets an account on first sign-in, and their roles follow
        # their groups at every sign-in (a group removed at the provider takes the role away).
        "AUTH_USER_REGISTRATION": True,
        "AUTH_USER_REGISTRATION_ROLE": oidc.default_role,
        "AUTH_ROLES_MAPPING": oidc.roles,
        "AUTH_ROLES_SYNC_AT_LOGIN": True,
    }


def _security_manager_class() -> type:
    from airflow.providers.fab.auth_manager.security_manager.override import FabAirflowSecurityManagerOverride

    class BatonSecurityManager(FabAirflowSecurityManagerOverride):
        """FAB's roles, the User role without edit rights on every DAG, and OIDC claims from the
        verified ID token and the provider's userinfo endpoint."""

        ROLE_CONFIGS: ClassVar[list[dict[str, Any]]] = [
            {**c, "perms": [p for p in c["perms"] if p not in USER_PER_DAG_ONLY]} if c["role"] == "User" else c
            for c in FabAirflowSecurityManagerOverride.ROLE_CONFIGS
        ]

        def sync_roles(self) -> None:
            super().sync_roles()
            # A database from an earlier setup may hold the stock User role's global rights.
            role = self.find_role("User")
            for action, resource in USER_PER_DAG_ONLY:
                perm = self.get_permission(action, resource)
                if role is not None and perm is not None and perm in role.permissions:
                    self.remove_permission_from_role(role, perm)

        def get_oauth_user_info(self, provider: str, resp: dict[str, Any]) -> dict[str, Any]:
            if provider != OIDC_PROVIDER:
                return super().get_oauth_user_info(provider, resp)
            oidc = oidc_from_env(os.environ)
            claims = dict(resp.get("userinfo") or {})  # the ID token's claims, verified by authlib
            claims.update(self.oauth_remotes[provider].userinfo(token=resp))
            return user_info(claims, oidc.groups_claim if oidc else "groups")

    return BatonSecurityManager


# What Flask reads (upper-case names only).
_settings = flask_settings(os.environ)
AUTH_TYPE = _settings["AUTH_TYPE"]
if AUTH_TYPE == AUTH_OAUTH:
    OAUTH_PROVIDERS = _settings["OAUTH_PROVIDERS"]
    AUTH_USER_REGISTRATION = _settings["AUTH_USER_REGISTRATION"]
    AUTH_USER_REGISTRATION_ROLE = _settings["AUTH_USER_REGISTRATION_ROLE"]
    AUTH_ROLES_MAPPING = _settings["AUTH_ROLES_MAPPING"]
    AUTH_ROLES_SYNC_AT_LOGIN = _settings["AUTH_ROLES_SYNC_AT_LOGIN"]
SECURITY_MANAGER_CLASS = _security_manager_class()
