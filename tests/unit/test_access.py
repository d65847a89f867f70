"""Access settings: the FAB configuration read from the environment (password or OIDC sign-in),
the kit's User role, and which roles may change which DAG (the cluster policy)."""

from __future__ import annotations

import importlib
import json
import sys

import pytest

from tests.conftest import REPO

IMAGE = REPO / "images" / "airflow"


def _load(name: str, monkeypatch: pytest.MonkeyPatch):
    """The Airflow image's module `name`, imported afresh: it reads the environment as it loads."""
    monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def webserver_config(monkeypatch_module):
    for key in [k for k in __import__("os").environ if k.startswith("BATON_OIDC_")]:
        monkeypatch_module.delenv(key)
    return _load("webserver_config", monkeypatch_module)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def policy(monkeypatch_module):
    return _load("airflow_local_settings", monkeypatch_module)


OIDC = {
    "BATON_OIDC_ISSUER": "https://login.example.com/realms/acme/",
    "BATON_OIDC_CLIENT_ID": "airflow",
    "BATON_OIDC_CLIENT_SECRET": "s3cret",
    "BATON_OIDC_ROLES": json.dumps({"data-eng": "Op", "analysts": ["Viewer"], "leads": ["User", "Op"]}),
}


def test_without_an_issuer_users_sign_in_with_a_password(webserver_config) -> None:
    assert webserver_config.flask_settings({}) == {"AUTH_TYPE": webserver_config.AUTH_DB}
    assert webserver_config.AUTH_TYPE == webserver_config.AUTH_DB  # the module as Flask reads it
    from flask_appbuilder.const import AUTH_DB, AUTH_OAUTH

    assert (webserver_config.AUTH_DB, webserver_config.AUTH_OAUTH) == (AUTH_DB, AUTH_OAUTH)


def test_an_issuer_turns_on_sign_in_through_the_provider(webserver_config) -> None:
    settings = webserver_config.flask_settings(OIDC)
    assert settings["AUTH_TYPE"] == webserver_config.AUTH_OAUTH
    (provider,) = settings["OAUTH_PROVIDERS"]
    assert provider["name"] == "oidc"
    assert provider["remote_app"] == {
        "client_id": "airflow",
        "client_secret": "s3cret",
        "server_metadata_url": "https://login.example.com/realms/acme/.well-known/openid-configuration",
        "client_kwargs": {"scope": "openid email profile"},
    }
    assert settings["AUTH_ROLES_MAPPING"] == {"data-eng": ["Op"], "analysts": ["Viewer"], "leads": ["User", "Op"]}
    # Someone in no mapped group signs in to no rights; roles follow the groups at every sign-in.
    assert settings["AUTH_USER_REGISTRATION_ROLE"] == "Public"
    assert settings["AUTH_USER_REGISTRATION"] is True and settings["AUTH_ROLES_SYNC_AT_LOGIN"] is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"BATON_OIDC_CLIENT_SECRET": ""}, "BATON_OIDC_CLIENT_SECRET not"),
        ({"BATON_OIDC_ISSUER": "login.example.com"}, "must be the provider's URL"),
        ({"BATON_OIDC_ROLES": "{analysts: Viewer}"}, "BATON_OIDC_ROLES is not JSON"),
        ({"BATON_OIDC_ROLES": '["Viewer"]'}, "must be a JSON object"),
        ({"BATON_OIDC_ROLES": '{"analysts": "viewer"}'}, "'viewer' is not a role"),
        ({"BATON_OIDC_ROLES": '{"analysts": []}'}, "must be a role or a list of roles"),
        ({"BATON_OIDC_DEFAULT_ROLE": "Superuser"}, "BATON_OIDC_DEFAULT_ROLE: 'Superuser' is not a role"),
    ],
)
def test_a_setting_that_cannot_work_is_named(webserver_config, change: dict, message: str) -> None:
    with pytest.raises(webserver_config.AccessConfigError, match=message.replace("[", r"\[")):
        webserver_config.oidc_from_env({**OIDC, **change})


def test_claims_become_a_user_with_groups_as_role_keys(webserver_config) -> None:
    claims = {"sub": "u-1", "preferred_username": "ann", "email": "ann@example.com", "groups": ["analysts"]}
    assert webserver_config.user_info(claims, "groups") == {
        "username": "ann",
        "email": "ann@example.com",
        "first_name": "",
        "last_name": "",
        "role_keys": ["analysts"],
    }
    # Another claim name, a single group as a string, no preferred_username: the e-mail names them.
    other = webserver_config.user_info({"email": "bo@example.com", "roles": "data-eng"}, "roles")
    assert (other["username"], other["role_keys"]) == ("bo@example.com", ["data-eng"])
    assert webserver_config.user_info({"sub": "u-2"}, "groups")["username"] == "u-2"


def test_the_user_role_edits_dags_only_where_a_dag_grants_it(webserver_config) -> None:
    roles = {c["role"]: set(c["perms"]) for c in webserver_config.SECURITY_MANAGER_CLASS.ROLE_CONFIGS}
    assert set(roles) == {"Public", "Viewer", "User", "Op", "Admin"}
    for rights in (("can_edit", "DAGs"), ("can_delete", "DAGs")):
        assert rights not in roles["User"]
        assert rights in roles["Op"] and rights in roles["Admin"]
    # The rest of FAB's User role stays: it creates runs and clears tasks of the DAGs it may edit.
    assert {("can_create", "DAG Runs"), ("can_edit", "Task Instances")} <= roles["User"]
    # The Viewer changes nothing but its own profile and password.
    changes = {(a, r) for a, r in roles["Viewer"] if a in ("can_create", "can_edit", "can_delete")}
    assert changes == {("can_edit", "My Password"), ("can_edit", "My Profile")}


def test_every_dag_but_meltano_state_lets_the_user_role_trigger_it(policy) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert not bag.import_errors, bag.import_errors
    assert "meltano_state" in bag.dags and len(bag.dags) >= 4
    for dag_id, dag in bag.dags.items():
        policy.dag_policy(dag)
        granted = (dag.access_control or {}).get("User", {}).get("DAGs", set())
        if dag_id == "meltano_state":
            assert not granted, "meltano_state moves Meltano's bookmarks: Op and Admin only"
        else:
            assert {"can_edit", "can_delete"} <= set(granted), dag_id
