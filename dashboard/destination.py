"""The store as a delivery destination: every alert on the topic, written once.

``LANNER_DESTINATION=store`` makes the delivery Lambda this (functions/destinations.py);
it reuses the delivery function's queue, retries and dead letters. DynamoDB's answers
are read as every AWS destination reads them (``deliver.aws_answer``): throttling and
server errors are retried, a refused item (too large, access denied) is dead-lettered.
"""

from __future__ import annotations

from dashboard.store import AlertStore
from deliver.alert import DeliveryAlert
from deliver.aws_answer import AWS_ERRORS, answer_of_aws_error, ok_answer
from deliver.retry import Answer


class StoreDestination:
    """Writes each alert to the alert store; an alert stored already is delivered."""

    name = "store"

    def __init__(self, store: AlertStore) -> None:
        self.store = store

    def send(self, alert: DeliveryAlert, fingerprint: str) -> Answer:
        try:
            new = self.store.put(alert)
        except AWS_ERRORS as exc:
            return answer_of_aws_error(exc)
        return ok_answer("stored" if new else "already stored")
