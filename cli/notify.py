"""``lanner notify`` and ``lanner alerts redrive``: delivery from the command line.

``notify`` reads Falco-JSON alert lines (``lanner scan --json``, ``lanner sensor --json``,
Falco's ``json_output``) and delivers them through the same code the delivery Lambdas
run; windows of repeats are kept in memory and pending summaries are delivered when the
input ends. ``alerts redrive`` sends a destination's dead letters back to its queue.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any

import click

from lanner import Priority

# How often a quiet input still gets its closed windows' summaries delivered.
TICK_SECONDS = 5.0
MAX_LINE_BYTES = 512 * 1024


class _Unreadable(Exception):
    """Reading the input failed (an I/O error): it ends there."""


def _lines(stream: IO[str]) -> Iterator[str | None]:
    """The input's lines, and None every TICK_SECONDS while it is quiet (a live
    ``lanner sensor --json``), so summaries are not held until the next alert."""
    q: queue.Queue[str | None] = queue.Queue(maxsize=1000)
    done = object()
    failed: list[Exception] = []

    def read() -> None:
        try:
            for line in stream:
                q.put(line)
        except Exception as exc:  # an unreadable input ends it, and says why
            failed.append(exc)
        finally:
            q.put(done)  # type: ignore[arg-type]

    threading.Thread(target=read, daemon=True).start()
    while True:
        try:
            item = q.get(timeout=TICK_SECONDS)
        except queue.Empty:
            yield None
            continue
        if item is done:
            if failed:
                raise _Unreadable(str(failed[0]) or type(failed[0]).__name__) from failed[0]
            return
        yield item


def build_destinations(
    slack_url: str | None,
    webhook_url: str | None,
    webhook_secret_file: str | None,
    pagerduty_url: str | None,
    pagerduty_key_file: str | None,
) -> list[Any]:
    dests: list[Any] = []
    if slack_url:
        from deliver.slack import SlackDestination

        dests.append(SlackDestination(slack_url))
    if webhook_url or webhook_secret_file:
        if not (webhook_url and webhook_secret_file):
            raise click.UsageError("--webhook-url and --webhook-secret-file go together")
        from deliver.webhook import WebhookDestination, load_secret_file

        dests.append(WebhookDestination(webhook_url, load_secret_file(webhook_secret_file)))
    if pagerduty_url or pagerduty_key_file:
        if not pagerduty_key_file:
            raise click.UsageError("--pagerduty-url needs --pagerduty-key-file")
        from deliver.pagerduty import PagerDutyDestination, load_routing_key_file

        key = load_routing_key_file(pagerduty_key_file)
        dests.append(
            PagerDutyDestination(key, url=pagerduty_url)
            if pagerduty_url
            else PagerDutyDestination(key)
        )
    if not dests:
        raise click.UsageError(
            "name at least one destination: --slack-url, --webhook-url, --pagerduty-key-file"
        )
    return dests


def run_notify(
    source: IO[str],
    err: IO[str],
    destinations: list[Any],
    min_priority: Priority,
    dedup_window: float,
) -> int:
    """Delivers every alert line of ``source``; returns the exit status."""
    from deliver.alert import AlertError, parse_alert
    from deliver.dedup import Deduplicator, MemoryStore
    from deliver.dispatch import Dispatcher, Failure
    from deliver.fingerprint import load_overrides
    from deliver.inert import inert
    from deliver.retry import Answer

    def failed(f: Failure) -> None:
        err.write(
            f"lanner notify: {f.destination}: alert '{inert(f.alert.rule)}' ({f.alert.uuid}) "
            f"not delivered after {f.outcome.attempts} attempt(s): "
            f"{inert(f.outcome.answer.describe())}\n"
        )

    def retrying(name: str, answer: Answer, wait: float) -> None:
        err.write(f"lanner notify: {name}: {inert(answer.describe())}; retrying in {wait:.1f}s\n")

    dispatcher = Dispatcher(
        destinations,
        dedup=Deduplicator(MemoryStore(), dedup_window) if dedup_window > 0 else None,
        min_priority=min_priority,
        fingerprint_fields=load_overrides(),
        on_failure=failed,
        on_retry=retrying,
    )
    bad = 0
    unreadable = False
    n = 0  # input lines read (the quiet ticks are not lines)
    try:
        for line in _lines(source):
            if line is not None:
                n += 1
            if line is not None and line.strip():
                if len(line) > MAX_LINE_BYTES:
                    bad += 1
                    err.write(f"lanner notify: line {n}: longer than {MAX_LINE_BYTES} bytes\n")
                else:
                    try:
                        dispatcher.submit(parse_alert(line))
                    except AlertError as exc:
                        bad += 1
                        err.write(
                            f"lanner notify: line {n}: not a Falco JSON alert: {inert(str(exc))}\n"
                        )
            dispatcher.flush()
    except _Unreadable as exc:
        unreadable = True
        err.write(f"lanner notify: input unreadable after line {n}: {inert(str(exc))}\n")
    dispatcher.flush(final=True)
    if bad:
        err.write(f"lanner notify: {bad} bad input line(s) skipped\n")
    err.write(dispatcher.stats.closing_line() + "\n")
    return 1 if sum(dispatcher.stats.failed.values()) or bad or unreadable else 0


@click.command("notify")
@click.option("--slack-url", metavar="URL", help="Slack incoming-webhook URL.")
@click.option("--webhook-url", metavar="URL", help="Webhook receiver (Standard Webhooks signed).")
@click.option(
    "--webhook-secret-file",
    metavar="F",
    type=click.Path(dir_okay=False),
    help="File holding the webhook signing secret (whsec_...).",
)
@click.option("--pagerduty-url", metavar="URL", help="Events API v2 URL (default PagerDuty's).")
@click.option(
    "--pagerduty-key-file",
    metavar="F",
    type=click.Path(dir_okay=False),
    help="File holding the PagerDuty routing (integration) key.",
)
@click.option(
    "--min-priority",
    metavar="P",
    type=click.Choice([p.name.lower() for p in Priority], case_sensitive=False),
    default="debug",
    show_default=True,
    help="Deliver only alerts at least this severe.",
)
@click.option(
    "--dedup-window",
    metavar="S",
    type=click.FloatRange(min=0),
    default=300,
    show_default=True,
    help="Seconds in which copies of an incident are counted, then summarised (0: off).",
)
@click.argument("file", default="-", type=click.File("r", encoding="utf-8", errors="replace"))
def notify(
    slack_url: str | None,
    webhook_url: str | None,
    webhook_secret_file: str | None,
    pagerduty_url: str | None,
    pagerduty_key_file: str | None,
    min_priority: str,
    dedup_window: float,
    file: IO[str],
) -> None:
    """Deliver Falco-JSON alert lines (FILE or stdin) to Slack, a webhook, PagerDuty."""
    try:
        dests = build_destinations(
            slack_url, webhook_url, webhook_secret_file, pagerduty_url, pagerduty_key_file
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    status = run_notify(file, sys.stderr, dests, Priority.parse(min_priority), dedup_window)
    sys.exit(status)


@click.group("alerts")
def alerts() -> None:
    """Operate the alert delivery on AWS."""


@alerts.command("redrive")
@click.option("--queue", "queue_url", required=True, metavar="URL", help="A dead-letter queue.")
@click.option(
    "--to", metavar="URL", help="Queue to send them to (default: the DLQ's source queue)."
)
@click.option("--limit", type=click.IntRange(min=1), help="Move at most this many.")
def redrive(queue_url: str, to: str | None, limit: int | None) -> None:
    """Send a destination's dead letters back to its queue, to be delivered again."""
    try:
        import boto3

        from functions.dead_letters import RedriveError
        from functions.dead_letters import redrive as move
    except ImportError as exc:
        raise click.UsageError(f"needs boto3 ({exc}): pip install 'lanner[aws]'") from None
    try:
        result = move(boto3.client("sqs"), queue_url, to=to, limit=limit)
    except RedriveError as exc:
        click.echo(f"lanner alerts redrive: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:  # botocore: no credentials, no such queue...
        click.echo(f"lanner alerts redrive: {exc}", err=True)
        sys.exit(2)
    click.echo(f"redriven {result.moved} message(s) to {result.target}", err=True)


__all__ = ["alerts", "notify"]
