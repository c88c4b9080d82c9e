"""The summarizer: every minute, the summaries of deduplication windows that closed.

A window that closed with copies gets its summary ("N times on M hosts between T1 and
T2") published to the alert topic like any alert, routed by the same filter policies,
within two minutes of closing. Published first, then settled: if this dies in between,
the next run publishes it again and the publisher's once-only claim (the summary's uuid
comes from its window) makes that a duplicate, never a loss. When the incident alerts
again before this runs, that alert publishes the summary instead; same uuid, same claim.
"""

from __future__ import annotations

from typing import Any

from functions.runtime import detector_handler, get_runtime, logger

BATCH = 100


@detector_handler("summaries")
def handler(event: Any, context: Any) -> dict[str, int]:
    rt = get_runtime()
    if rt.dedup is None:
        return {"summaries": 0}
    published = 0
    while True:
        windows = rt.dedup.due(limit=BATCH)
        settled = 0
        for window in windows:
            rt.publisher.publish([window.summary().doc])
            if rt.dedup.store.settle(window):
                settled += 1
        published += settled
        if len(windows) < BATCH or not settled:
            break
    rt.count("SummariesOut", published)
    logger.info(f"{published} summaries published")
    return {"summaries": published}
