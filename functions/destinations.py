"""A delivery Lambda's destination, built from its environment and its secret.

``LANNER_DESTINATION`` names it; its URL, signing secret or routing key come from
``LANNER_DESTINATION_SECRET``: a Secrets Manager ARN (or name), or an SSM SecureString
parameter name starting with "/", read with powertools' parameters utility (cached for
five minutes, so a rotated secret is picked up without a redeploy). The secret's value
is JSON (``{"url": ...}``, ``{"url": ..., "secret": "whsec_...", "headers": {...}}``,
``{"routing_key": ...}``) or, for Slack, the bare URL. Secrets never reach a log line.

``store`` (the dashboard's alert store) needs no secret: ``LANNER_ALERT_STORE_TABLE`` names
its DynamoDB table, ``LANNER_ALERT_RETENTION_DAYS`` (default 30) how long alerts stay.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from deliver.destination import Destination

NAMES = ("slack", "webhook", "pagerduty", "securityhub", "ocsf", "store")
SECRET_MAX_AGE_S = 300


class DestinationConfigError(ValueError):
    """The destination's environment or secret is missing something (never says the secret)."""


def read_secret(ref: str) -> dict[str, Any]:
    from aws_lambda_powertools.utilities import parameters

    try:
        if ref.startswith("/"):
            raw = parameters.get_parameter(ref, decrypt=True, max_age=SECRET_MAX_AGE_S)
        else:
            raw = parameters.get_secret(ref, max_age=SECRET_MAX_AGE_S)
    except Exception as exc:
        raise DestinationConfigError(f"cannot read the destination's secret {ref}: {exc}") from None
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            raise DestinationConfigError(f"secret {ref} is not valid JSON") from None
        if isinstance(doc, dict):
            return doc
        raise DestinationConfigError(f"secret {ref} is not a JSON object")
    return {"url": text.strip()}


def _need(secret: Mapping[str, Any], key: str, ref: str) -> str:
    value = secret.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DestinationConfigError(f"secret {ref} has no {key!r}")
    return value.strip()


def build_destination(
    env: Mapping[str, str],
    client: Callable[[str], Callable[[], Any]],
    account_id: str,
    secret_reader: Callable[[str], dict[str, Any]] = read_secret,
) -> Destination:
    """The destination ``env`` describes; ``client(name)`` gives a boto3 client factory."""
    name = env.get("LANNER_DESTINATION", "")
    if name not in NAMES:
        raise DestinationConfigError(f"LANNER_DESTINATION must be one of {', '.join(NAMES)}")
    if name == "securityhub":
        from deliver.securityhub import SecurityHubDestination

        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
        return SecurityHubDestination(client("securityhub"), account_id, region)
    if name == "ocsf":
        from deliver.ocsf import OcsfS3Destination

        bucket = env.get("LANNER_OCSF_BUCKET", "")
        if not bucket:
            raise DestinationConfigError("LANNER_OCSF_BUCKET is not set")
        return OcsfS3Destination(client("s3"), bucket, env.get("LANNER_OCSF_PREFIX") or "ocsf/")
    if name == "store":
        return _store(env, client)
    ref = env.get("LANNER_DESTINATION_SECRET", "")
    if not ref:
        raise DestinationConfigError(f"LANNER_DESTINATION_SECRET is not set for {name}")
    secret = secret_reader(ref)
    try:
        if name == "slack":
            from deliver.slack import SlackDestination

            return SlackDestination(_need(secret, "url", ref))
        if name == "webhook":
            from deliver.webhook import WebhookDestination

            headers = secret.get("headers") or {}
            if not isinstance(headers, dict):
                raise DestinationConfigError(f"secret {ref}: 'headers' must be an object")
            return WebhookDestination(
                _need(secret, "url", ref), _need(secret, "secret", ref), headers=headers
            )
        from deliver.pagerduty import PagerDutyDestination

        key = _need(secret, "routing_key", ref)
        url = secret.get("url")
        if isinstance(url, str) and url:  # an EU account, say
            return PagerDutyDestination(key, url=url)
        return PagerDutyDestination(key)
    except ValueError as exc:
        if isinstance(exc, DestinationConfigError):
            raise
        raise DestinationConfigError(f"secret {ref}: {exc}") from None


def _store(env: Mapping[str, str], client: Callable[[str], Callable[[], Any]]) -> Destination:
    from dashboard.destination import StoreDestination
    from dashboard.schema import RETENTION_DAYS_DEFAULT, RETENTION_DAYS_MAX, RETENTION_DAYS_MIN
    from dashboard.store import AlertStore

    table = env.get("LANNER_ALERT_STORE_TABLE", "").strip()
    if not table:
        raise DestinationConfigError("LANNER_ALERT_STORE_TABLE is not set")
    raw = env.get("LANNER_ALERT_RETENTION_DAYS", "").strip()
    try:
        days = int(raw) if raw else RETENTION_DAYS_DEFAULT
    except ValueError:
        days = 0
    if not RETENTION_DAYS_MIN <= days <= RETENTION_DAYS_MAX:
        raise DestinationConfigError(
            f"LANNER_ALERT_RETENTION_DAYS must be a whole number of days from "
            f"{RETENTION_DAYS_MIN} to {RETENTION_DAYS_MAX}, not {raw!r}"
        )
    return StoreDestination(AlertStore(client("dynamodb"), table, retention_days=days))
