"""The EKS audit detector: Kubernetes audit events from CloudWatch Logs.

EKS writes its control-plane logs to ``/aws/eks/<cluster>/cluster``; a
subscription filter delivers them here (base64 + gzip JSON). Only the API
server's audit streams (``kube-apiserver-audit-*``) hold audit events; the other
streams of the group (authenticator, scheduler, controller manager...) are
skipped and counted (SkippedLogEvents), and CloudWatch's CONTROL_MESSAGE is
skipped.

A payload that cannot be read (not base64, truncated gzip...) is quarantined
whole; a log event that is not a JSON object (or nests deeper than
``lanner.boundedjson`` allows, or holds a number of more than 4,300 digits) is
quarantined alone, with its log group/stream/event id, and the rest are still
evaluated. Neither fails the invocation: retrying cannot fix them. A
publish failure does (PublishError, or ThresholdStoreError when threshold counts
cannot be written): CloudWatch Logs' asynchronous invocation
retries it, and the publisher's dedup keeps alerts once-only.
"""

from __future__ import annotations

import json
from typing import Any

from functions import cwlogs
from functions.publish import PublishError
from functions.runtime import Runtime, detector_handler, get_runtime, logger
from lanner import boundedjson, json_kind

SOURCE = "k8s_audit"
AUDIT_STREAM_PREFIX = "kube-apiserver-audit"


def is_audit_stream(log_stream: str) -> bool:
    return log_stream.startswith(AUDIT_STREAM_PREFIX)


def cluster_of(log_group: str) -> str | None:
    """``demo`` for ``/aws/eks/demo/cluster``."""
    parts = log_group.split("/")
    if len(parts) == 5 and parts[:3] == ["", "aws", "eks"] and parts[4] == "cluster":
        return parts[3]
    return None


def audit_events(rt: Runtime, payload: cwlogs.LogsPayload) -> tuple[list[dict[str, Any]], int]:
    """The audit events of a payload, and how many log events were quarantined."""
    docs: list[dict[str, Any]] = []
    bad = 0
    for ev in payload.log_events:
        origin = f"{payload.log_group}/{payload.log_stream}/{ev.id}"
        try:
            # Bounded: a log event nested ~1,000 levels deep made json raise
            # RecursionError (no ValueError), which failed the whole invocation.
            doc = boundedjson.loads(ev.message)
        except ValueError as exc:
            rt.quarantine.put(SOURCE, f"log event is not JSON: {exc}", ev.message, origin)
            bad += 1
            continue
        if not isinstance(doc, dict):
            reason = f"log event is not a JSON object but {type(doc).__name__}"
            rt.quarantine.put(SOURCE, reason, ev.message, origin)
            bad += 1
        elif doc.get("kind") == "EventList" and isinstance(doc.get("items"), list):
            for i, item in enumerate(doc["items"]):
                if isinstance(item, dict):
                    docs.append(item)
                else:  # kept where a user can find it, never dropped unseen
                    reason = f"EventList item is not a JSON object (it is {json_kind(item)})"
                    rt.quarantine.put(SOURCE, reason, json.dumps(item), f"{origin}:items[{i}]")
                    bad += 1
        else:
            docs.append(doc)
    return docs, bad


@detector_handler(SOURCE)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = get_runtime()
    try:
        payload = cwlogs.decode(event)
    except cwlogs.PayloadError as exc:
        origin = f"cloudwatch-logs/request/{getattr(context, 'aws_request_id', '?')}"
        raw = cwlogs.raw_data(event) or json.dumps(event, default=str)
        rt.quarantine.put(SOURCE, str(exc), raw, origin)
        logger.warning(f"unreadable subscription payload quarantined: {exc}")
        return {"status": "quarantined", "reason": str(exc)}
    if payload.is_control:
        logger.info("CloudWatch Logs control message skipped")
        return {"status": "control"}
    logger.append_keys(log_group=payload.log_group, log_stream=payload.log_stream)
    if not is_audit_stream(payload.log_stream):
        rt.count("SkippedLogEvents", len(payload.log_events))
        return {"status": "skipped", "skipped": len(payload.log_events)}
    docs, bad = audit_events(rt, payload)
    alerts = rt.evaluate(docs, SOURCE)
    try:
        result = rt.publisher.publish(alerts)
    except PublishError as exc:
        logger.warning(f"publish failed, the invocation will be retried: {exc}")
        raise
    return {
        "status": "ok",
        "cluster": cluster_of(payload.log_group),
        "events": len(docs),
        "alerts": result.published,
        "duplicates": result.duplicates,
        "quarantined": bad,
    }
