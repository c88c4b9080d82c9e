"""The dashboard Lambda: the page and its API (dashboard/api.py) behind API Gateway's HTTP
API, which signs users in with Cognito and refuses /api requests without a valid token.

Once per container it builds the alert store over ``LANNER_ALERT_STORE_TABLE`` and the
page's sign-in settings: Cognito when ``LANNER_DASHBOARD_USER_POOL_ID`` and
``LANNER_DASHBOARD_CLIENT_ID`` are set (ids, never secrets; the region is the function's),
a local token otherwise. Then every invocation is one request, resolved. ``lanner ui`` runs
this same handler over a store it made (``serve``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from dashboard.api import build_app
from dashboard.store import AlertStore
from functions.runtime import Clients, logger
from functions.settings import SettingsError

_app: APIGatewayHttpResolver | None = None


def page_config(env: Mapping[str, str]) -> dict[str, str]:
    """What /config.json tells the page about signing in."""
    pool = env.get("LANNER_DASHBOARD_USER_POOL_ID", "")
    client = env.get("LANNER_DASHBOARD_CLIENT_ID", "")
    if not pool and not client:
        return {"auth": "token"}
    if not pool or not client:
        given, missing = (
            ("LANNER_DASHBOARD_USER_POOL_ID", "LANNER_DASHBOARD_CLIENT_ID")
            if pool
            else ("LANNER_DASHBOARD_CLIENT_ID", "LANNER_DASHBOARD_USER_POOL_ID")
        )
        raise SettingsError(f"{given} is set but {missing} is not: Cognito sign-in needs both")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION", "")
    return {"auth": "cognito", "region": region, "user_pool_id": pool, "client_id": client}


def store_from_env(env: Mapping[str, str], clients: Clients) -> AlertStore:
    table = env.get("LANNER_ALERT_STORE_TABLE", "")
    if not table:
        raise SettingsError("LANNER_ALERT_STORE_TABLE is not set (the alert store's table)")
    return AlertStore(clients.factory("dynamodb"), table)


def app() -> APIGatewayHttpResolver:
    """The container's resolver, built from the environment on first use."""
    global _app
    if _app is None:
        _app = build_app(store_from_env(os.environ, Clients()), page_config(os.environ))
    return _app


def serve(store: AlertStore, config: Mapping[str, str]) -> None:
    """Answers from ``store`` from now on, with ``config`` as /config.json (``lanner ui``)."""
    global _app
    _app = build_app(store, config)


def reset() -> None:
    """Forgets the resolver: the next request reads the environment again."""
    global _app
    _app = None


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app().resolve(event, context)
