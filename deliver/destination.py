"""What every destination is: a name, and one attempt at sending one alert."""

from __future__ import annotations

from typing import Protocol

from deliver.alert import DeliveryAlert
from deliver.retry import Answer


class Destination(Protocol):
    """Renders an alert its own way and sends it once. Retries, deduplication and dead
    letters are the caller's (``retry.send_with_retries``): a destination never sleeps."""

    name: str

    def send(self, alert: DeliveryAlert, fingerprint: str) -> Answer: ...
