"""The dashboard page in a real browser: headless Debian chromium driven by Playwright.

The page (dashboard/static) talks to the real stack: ``cli.ui.DashboardServer`` (what
``lanner ui`` runs) → the dashboard Lambda's handler → ``dashboard.api`` → ``AlertStore`` on
moto. Every test seeds the store with known alerts and checks what a user sees: the counters,
the charts' data (read from Chart.js), the table, the filters, the detail view, the export.

Without chromium these tests skip, unless ``LANNER_REQUIRE_BROWSER=1`` (CI sets it: there a
missing browser is a failure, not a skip). Playwright drives the system's chromium
(``executable_path``); ``playwright install`` is never needed.

Also a tool: ``python -m tests.dashboard.test_browser --screenshot docs/dashboard.png`` seeds a
realistic day of alerts on moto and saves the screenshot the README shows.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Route,
    ViewportSize,
    expect,
    sync_playwright,
)
from playwright.sync_api import (
    TimeoutError as PlaywrightTimeout,
)

from cli.ui import DashboardServer
from dashboard.store import AlertStore
from dashboard.table import create_alert_store_table
from deliver.alert import DeliveryAlert
from functions import dashboard_handler
from tests.aws.conftest import use_moto
from tests.dashboard.conftest import TABLE, falco_time, new_alert

CHROMIUM = shutil.which("chromium")
REQUIRE_BROWSER = os.environ.get("LANNER_REQUIRE_BROWSER") == "1"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not REQUIRE_BROWSER,
    reason="chromium is not installed (Debian: apt-get install chromium); CI sets "
    "LANNER_REQUIRE_BROWSER=1 so that it never skips these",
)

PRIORITIES = (
    "Emergency",
    "Alert",
    "Critical",
    "Error",
    "Warning",
    "Notice",
    "Informational",
    "Debug",
)
LAPTOP: ViewportSize = {"width": 1400, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}

# Strings that would run script if the page ever parsed alert text as HTML.
HOSTILE_RULE = '<img src=x onerror="window.__pwned=1">'
HOSTILE_OUTPUT = '<script>window.__pwned=1</script> then <img src=x onerror="window.__pwned=1">'
HOSTILE_HOST = '"><svg onload="window.__pwned=1">'

# Records, in the page, what the CSP blocked (Playwright's init scripts run outside the CSP).
WATCH_SCRIPT = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


# --- the seeded alerts ---------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """One kind of alert in the seed: a rule and how its alerts look."""

    rule: str
    priority: str
    source: str
    tags: tuple[str, ...]
    message: str
    count: int


KINDS = (
    Kind(
        "Interactive Shell In Container",
        "Warning",
        "syscall",
        ("container", "shell", "mitre_execution", "T1059"),
        "A shell was spawned in a container with an attached terminal (user=root shell=bash "
        "parent=runc cmdline=bash -il)",
        8,
    ),
    Kind(
        "Sensitive File Read By Untrusted Program",
        "Error",
        "syscall",
        ("filesystem", "mitre_credential_access", "T1555"),
        "Sensitive file opened for reading by non-trusted program (file=/etc/shadow "
        "command=cat /etc/shadow)",
        5,
    ),
    Kind(
        "Kubernetes API Contacted From Container",
        "Notice",
        "syscall",
        ("network", "k8s", "mitre_discovery", "T1613"),
        "Unexpected connection to K8s API Server from container (command=curl "
        "connection=10.0.3.7:43120->10.100.0.1:443)",
        4,
    ),
    Kind(
        "K8s Privileged Pod Created",
        "Critical",
        "k8s_audit",
        ("k8s", "mitre_privilege_escalation", "T1610"),
        "Pod started with privileged container (user=dev@example.com pod=debug-tools "
        "ns=payments image=busybox)",
        4,
    ),
    Kind(
        "AWS Console Login Without MFA",
        "Critical",
        "aws_cloudtrail",
        ("aws", "mitre_initial_access", "T1078"),
        "Console login without MFA (user=alice src_ip=203.0.113.7 region=eu-west-1)",
        3,
    ),
    Kind(
        "Cgroup Release Agent Written From Container",
        "Alert",
        "syscall",
        ("container", "mitre_privilege_escalation", "T1611"),
        "Cgroup release_agent file written from a container (file=/sys/fs/cgroup/release_agent)",
        2,
    ),
    Kind(
        "Log File Truncated",
        "Informational",
        "syscall",
        ("filesystem", "mitre_defense_evasion", "T1070"),
        "Log file truncated (file=/var/log/auth.log command=truncate -s0)",
        2,
    ),
)
HOSTS = ("node-1.prod.example.net", "node-2.prod.example.net", "node-3.prod.example.net")
NAMESPACES = ("shop", "payments", "kube-system")
# The first alerts are this recent (minutes); the others 10 to 50 minutes ago: a 5 minute
# view holds exactly the first ones, whichever way its counts round to whole minutes.
RECENT_MINUTES = (1.0, 2.0, 3.0)


def _fields(kind: Kind, host: int) -> dict[str, Any]:
    if kind.source == "k8s_audit":
        return {
            "ka.user.name": "dev@example.com",
            "ka.target.namespace": "payments",
            "ka.target.name": "debug-tools",
            "ka.verb": "create",
        }
    if kind.source == "aws_cloudtrail":
        return {
            "ct.user": "alice",
            "ct.name": "ConsoleLogin",
            "ct.srcip": "203.0.113.7",
            "ct.region": "eu-west-1",
            "ct.recipientaccountid": "123456789012",
        }
    return {
        "evt.type": "execve",
        "user.name": "root",
        "proc.name": "bash",
        "proc.cmdline": "bash -il",
        "container.name": "web",
        "k8s.ns.name": NAMESPACES[host % len(NAMESPACES)],
        "k8s.pod.name": f"web-6d4cf56db6-{host}x7k2",
    }


def _doc(kind: Kind, when: datetime, index: int) -> dict[str, Any]:
    local = when.astimezone(UTC)
    clock = local.strftime("%H:%M:%S.") + f"{local.microsecond:06d}000"
    return {
        "rule": kind.rule,
        "priority": kind.priority,
        "source": kind.source,
        "hostname": HOSTS[index % len(HOSTS)]
        if kind.source == "syscall"
        else f"lanner-{kind.source}",
        "tags": list(kind.tags),
        "time": falco_time(when),
        "output": f"{clock}: {kind.priority} {kind.message} #{index}",
        "output_fields": _fields(kind, index),
    }


def seed_docs(now: datetime) -> list[dict[str, Any]]:
    """30 alerts in the last hour: the kinds above, interleaved in time, one of them hostile
    and one a summary of repeats."""
    order = [
        kind
        for round_ in range(max(k.count for k in KINDS))
        for kind in KINDS
        if round_ < kind.count
    ]
    docs = []
    for index, kind in enumerate(order):
        minutes = RECENT_MINUTES[index] if index < len(RECENT_MINUTES) else 10 + 1.5 * (index - 3)
        docs.append(_doc(kind, now - timedelta(minutes=minutes), index))
    hostile = _doc(KINDS[1], now - timedelta(minutes=47), len(docs))
    hostile.update(rule=HOSTILE_RULE, output=HOSTILE_OUTPUT, hostname=HOSTILE_HOST)
    hostile["output_fields"]["proc.cmdline"] = HOSTILE_OUTPUT
    docs.append(hostile)
    summary = _doc(KINDS[0], now - timedelta(minutes=48), len(docs))
    summary["repeat"] = {
        "count": 12,
        "hosts": 3,
        "host_names": list(HOSTS),
        "first_seen": falco_time(now - timedelta(minutes=53)),
        "last_seen": falco_time(now - timedelta(minutes=48)),
        "window_seconds": 300,
    }
    docs.append(summary)
    return docs


def older_docs(now: datetime) -> list[dict[str, Any]]:
    """25 more, two to three hours ago: outside the hour most tests look at; with them a six
    hour view has more rows than one page."""
    return [_doc(KINDS[6], now - timedelta(hours=2, minutes=2 * i), 100 + i) for i in range(25)]


@dataclass
class Seeded:
    """The store every test here reads: ``alerts`` in the last hour, ``older`` before it."""

    store: AlertStore
    alerts: list[DeliveryAlert]
    older: list[DeliveryAlert]

    def count(self, **where: str) -> int:
        return sum(1 for a in self.alerts if all(_value(a, k) == v for k, v in where.items()))

    def by(self, key: str) -> Counter[str]:
        if key == "tag":
            return Counter(t for a in self.alerts for t in a.tags)
        return Counter(_value(a, key) for a in self.alerts)


def _value(alert: DeliveryAlert, key: str) -> str:
    return str(alert.priority) if key == "priority" else str(getattr(alert, key))


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _when(alert: DeliveryAlert) -> datetime:
    """The alert's time (Falco's nanoseconds cut to Python's microseconds)."""
    return datetime.fromisoformat(alert.time[:26] + "+00:00")


def seed(store: AlertStore, docs: list[dict[str, Any]]) -> list[DeliveryAlert]:
    alerts = [new_alert(**doc) for doc in docs]
    for alert in alerts:
        assert store.put(alert)
    return alerts


# --- browser, server, page -----------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.fail("LANNER_REQUIRE_BROWSER=1 but chromium is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def module_aws(moto_endpoint: str) -> Iterator[str]:
    """One moto account for the module (tests/aws/conftest.py's ``aws``, once): seeding the
    store is the slow part, and the tests only read it (those that write use other times)."""
    with pytest.MonkeyPatch.context() as env:
        use_moto(moto_endpoint, env)
        yield moto_endpoint


@pytest.fixture(scope="module")
def seeded(module_aws: str) -> Seeded:
    client = boto3.client("dynamodb")
    create_alert_store_table(client, TABLE)
    store = AlertStore(lambda: client, TABLE)
    now = datetime.now(UTC)
    return Seeded(store, seed(store, seed_docs(now)), seed(store, older_docs(now)))


@pytest.fixture(scope="module")
def server(seeded: Seeded) -> Iterator[DashboardServer]:
    """``lanner ui``'s server (the dashboard Lambda's handler) over the seeded store."""
    with DashboardServer(seeded.store) as running:
        yield running


@dataclass
class Watch:
    """What went wrong in a page: console errors, uncaught exceptions, CSP violations; and
    every request under /api/ with its status."""

    page: Page
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    api: list[tuple[str, int]] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console.append(message.text)

    def on_finished(self, request: Request) -> None:
        if "/api/" in request.url:
            response = request.response()
            self.api.append((request.url, response.status if response else 0))

    def on_failed(self, request: Request) -> None:
        if "/api/" in request.url:
            self.api.append((request.url, 0))

    def csp_violations(self) -> list[str]:
        return list(self.page.evaluate("window.__csp || []"))

    def assert_clean(self) -> None:
        assert self.errors == []
        assert self.console == []
        assert self.csp_violations() == []
        assert self.page.evaluate("window.__pwned") is None


def new_page(browser: Browser, viewport: ViewportSize, **options: Any) -> tuple[Page, Watch]:
    context = browser.new_context(viewport=viewport, reduced_motion="reduce", **options)
    context.add_init_script(WATCH_SCRIPT)
    page = context.new_page()
    watch = Watch(page)
    page.on("console", watch.on_console)
    page.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    page.on("requestfinished", watch.on_finished)
    page.on("requestfailed", watch.on_failed)
    return page, watch


@pytest.fixture
def page_watch(browser: Browser) -> Iterator[tuple[Page, Watch]]:
    page, watch = new_page(browser, LAPTOP)
    yield page, watch
    page.context.close()


@pytest.fixture
def page(page_watch: tuple[Page, Watch]) -> Page:
    return page_watch[0]


def hook(page: Page, name: str) -> Any:
    """The element the page marks data-testid=name (app.js lists them)."""
    return page.locator(f'[data-testid="{name}"]')


def refreshes(page: Page) -> int:
    return int(page.evaluate("Number(document.body.dataset.refreshes || 0)"))


def wait_for_view(page: Page, after: int) -> None:
    """Until a view newer than the ``after``-th is drawn (counters, charts and table)."""
    try:
        page.wait_for_function("(n) => Number(document.body.dataset.refreshes || 0) > n", arg=after)
    except PlaywrightTimeout:
        status = page.evaluate("document.body.innerText.slice(0, 2000)")
        raise AssertionError(f"the view was not drawn; the page says: {status}") from None


def open_dashboard(page: Page, server: DashboardServer, view: str = "#range=1h") -> None:
    page.goto(server.login_url + view)
    wait_for_view(page, 0)


def counter(page: Page, priority: str) -> int:
    return int(hook(page, f"counter-{priority}").get_attribute("data-count"))


def chart(page: Page, name: str) -> dict[str, Any]:
    """What the chart shows: its labels and each dataset's label and numbers."""
    return dict(
        page.evaluate(
            """(name) => {
              const canvas = document.querySelector(`[data-testid="chart-${name}"]`);
              const chart = Chart.getChart(canvas);
              return {labels: chart.data.labels,
                      datasets: chart.data.datasets.map((d) => ({label: d.label, data: d.data}))};
            }""",
            name,
        )
    )


def chart_counts(page: Page, name: str) -> dict[str, int]:
    data = chart(page, name)
    return dict(zip(data["labels"], data["datasets"][0]["data"], strict=True))


def click_chart(page: Page, name: str, label: str) -> None:
    """Clicks the bar (or slice) of ``label`` in a chart, where a user would."""
    hook(page, f"chart-{name}").scroll_into_view_if_needed()
    point = page.evaluate(
        """([name, label]) => {
          const canvas = document.querySelector(`[data-testid="chart-${name}"]`);
          const chart = Chart.getChart(canvas);
          const element = chart.getDatasetMeta(0).data[chart.data.labels.indexOf(label)];
          const box = canvas.getBoundingClientRect();
          const {x, y} = element.getCenterPoint();
          return {x: box.left + x, y: box.top + y};
        }""",
        [name, label],
    )
    page.mouse.click(point["x"], point["y"])


def rows(page: Page) -> Any:
    return hook(page, "event-row")


def row_uuids(page: Page) -> list[str]:
    return [str(u) for u in rows(page).evaluate_all("(rs) => rs.map((r) => r.dataset.uuid)")]


# --- what the page shows -------------------------------------------------------------------


def test_counters_and_charts_show_the_seeded_alerts(
    page_watch: tuple[Page, Watch], server: DashboardServer, seeded: Seeded
) -> None:
    page, watch = page_watch
    open_dashboard(page, server)

    assert counter(page, "total") == len(seeded.alerts) == 30
    by_priority = seeded.by("priority")
    for priority in PRIORITIES:
        assert counter(page, priority) == by_priority[priority], priority
    expect(hook(page, "counter-Critical").locator(".value")).to_have_text(
        str(by_priority["Critical"])
    )

    assert chart_counts(page, "priority") == {p: n for p, n in by_priority.items() if n}
    assert chart(page, "priority")["labels"] == [p for p in PRIORITIES if by_priority[p]]
    assert chart_counts(page, "rule") == seeded.by("rule")
    assert (
        chart_counts(page, "source")
        == seeded.by("source")
        == {
            "syscall": 23,
            "k8s_audit": 4,
            "aws_cloudtrail": 3,
        }
    )
    tags = chart_counts(page, "tag")  # the ten most frequent (ties either way), then the rest
    others = tags.pop("(others)")
    assert len(tags) == 10 and all(seeded.by("tag")[t] == n for t, n in tags.items())
    rest = [n for t, n in seeded.by("tag").items() if t not in tags]
    assert min(tags.values()) >= max(rest) and others == sum(rest)

    timeline = chart(page, "timeline")
    per_priority = {d["label"]: sum(d["data"]) for d in timeline["datasets"]}
    assert per_priority == {p: n for p, n in by_priority.items() if n}
    assert len(timeline["labels"]) >= 60  # minute buckets over the hour

    assert sorted(row_uuids(page)) == sorted(a.uuid for a in seeded.alerts)
    watch.assert_clean()


def test_the_token_leaves_the_address_bar_for_the_session(
    page: Page, server: DashboardServer
) -> None:
    open_dashboard(page, server)

    assert "token" not in page.url
    assert page.url.endswith("/#range=1h")
    assert page.evaluate("sessionStorage.getItem('lanner.token')") == server.token
    page.reload()  # the session keeps it
    wait_for_view(page, 0)
    assert counter(page, "total") == 30


def test_the_table_shows_each_alert_and_summaries_their_repeats(
    page: Page, server: DashboardServer, seeded: Seeded
) -> None:
    open_dashboard(page, server)
    first = seeded.alerts[0]
    row = page.locator(f'[data-testid="event-row"][data-uuid="{first.uuid}"]')

    for text in (first.rule, str(first.priority), first.source, first.hostname, first.output):
        expect(row).to_contain_text(text)
    expect(row).to_contain_text(first.where.namespace)
    for tag in first.tags:
        expect(row.locator(f'[data-key="tag"][data-value="{tag}"]')).to_be_visible()
    expect(row.locator('[data-testid="repeat-badge"]')).to_have_count(0)

    summary = next(a for a in seeded.alerts if a.repeat is not None)
    badge = page.locator(f'[data-uuid="{summary.uuid}"] [data-testid="repeat-badge"]')
    expect(badge).to_have_text("×12 on 3 hosts")
    assert [a.uuid for a in sorted(seeded.alerts, key=lambda a: a.time, reverse=True)] == row_uuids(
        page
    )


def test_clicking_a_value_adds_a_filter_chip_that_narrows_the_view(
    page_watch: tuple[Page, Watch], server: DashboardServer, seeded: Seeded
) -> None:
    page, watch = page_watch
    open_dashboard(page, server)
    rule = KINDS[1].rule
    before = refreshes(page)

    rows(page).locator(f'[data-key="rule"][data-value="{rule}"]').first.click()
    wait_for_view(page, before)

    chip = hook(page, "chip")
    expect(chip).to_have_count(1)
    expect(chip).to_have_attribute("data-key", "rule")
    expect(chip).to_contain_text(rule)
    assert counter(page, "total") == seeded.count(rule=rule) == 5
    assert counter(page, "Error") == 5 and counter(page, "Warning") == 0
    assert chart_counts(page, "rule") == {rule: 5}
    expect(rows(page)).to_have_count(5)
    assert {a.uuid for a in seeded.alerts if a.rule == rule} == set(row_uuids(page))
    assert "rule=Sensitive+File+Read" in page.url and "token" not in page.url

    # A second filter: the host of the first row.
    before = refreshes(page)
    rows(page).first.locator('[data-key="hostname"]').click()
    wait_for_view(page, before)
    expect(hook(page, "chip")).to_have_count(2)
    host = hook(page, "chip").nth(1).get_attribute("data-value")
    assert counter(page, "total") == seeded.count(rule=rule, hostname=str(host)) > 0

    # Removing the chips widens the view again.
    for _ in range(2):
        before = refreshes(page)
        hook(page, "chip-remove").first.click()
        wait_for_view(page, before)
    expect(hook(page, "chip")).to_have_count(0)
    assert counter(page, "total") == 30
    watch.assert_clean()


def test_clicking_a_chart_filters_by_what_it_shows(
    page: Page, server: DashboardServer, seeded: Seeded
) -> None:
    open_dashboard(page, server)
    before = refreshes(page)

    click_chart(page, "source", "k8s_audit")
    wait_for_view(page, before)

    expect(hook(page, "chip")).to_have_attribute("data-key", "source")
    expect(hook(page, "chip")).to_have_attribute("data-value", "k8s_audit")
    assert counter(page, "total") == seeded.count(source="k8s_audit") == 4
    assert chart_counts(page, "rule") == {KINDS[3].rule: 4}

    before = refreshes(page)
    click_chart(page, "rule", KINDS[3].rule)  # the same rule: a second chip
    wait_for_view(page, before)
    assert [c.get_attribute("data-key") for c in hook(page, "chip").all()] == ["rule", "source"]
    expect(rows(page)).to_have_count(4)


def test_a_priority_filter_means_at_least_that_priority(
    page: Page, server: DashboardServer, seeded: Seeded
) -> None:
    open_dashboard(page, server)
    before = refreshes(page)

    hook(page, "counter-Error").click()
    wait_for_view(page, before)

    expect(hook(page, "chip")).to_have_attribute("data-value", "Error")
    severe = ("Emergency", "Alert", "Critical", "Error")
    assert counter(page, "total") == sum(seeded.by("priority")[p] for p in severe) == 15
    assert {r for r in rows(page).evaluate_all("(rs) => rs.map((r) => r.dataset.priority)")} == {
        "Alert",
        "Critical",
        "Error",
    }


def test_a_shared_view_opens_with_its_filters(
    browser: Browser, page: Page, server: DashboardServer, seeded: Seeded
) -> None:
    open_dashboard(page, server, "#range=1h&source=aws_cloudtrail")
    assert counter(page, "total") == 3

    other, _ = new_page(browser, LAPTOP)  # another tab: its own session, the same link
    try:
        other.goto(server.login_url + "#" + page.url.partition("#")[2])
        wait_for_view(other, 0)
        expect(hook(other, "chip")).to_have_attribute("data-value", "aws_cloudtrail")
        assert counter(other, "total") == 3
        expect(rows(other)).to_have_count(3)
    finally:
        other.context.close()


def test_the_search_box_narrows_to_outputs_holding_the_text(
    page: Page, server: DashboardServer, seeded: Seeded
) -> None:
    open_dashboard(page, server)
    before = refreshes(page)

    hook(page, "search-input").fill("/ETC/SHADOW")
    hook(page, "search-input").press("Enter")
    wait_for_view(page, before)

    shadow = [a.uuid for a in seeded.alerts if "/etc/shadow" in a.output]
    assert len(shadow) == 5
    assert sorted(row_uuids(page)) == sorted(shadow)
    assert counter(page, "total") == 5
    assert "q=%2FETC%2FSHADOW" in page.url


def test_time_presets_and_a_custom_range(
    page: Page, server: DashboardServer, seeded: Seeded
) -> None:
    open_dashboard(page, server)
    before = refreshes(page)

    hook(page, "range-5m").click()
    wait_for_view(page, before)
    expect(hook(page, "range-5m")).to_have_attribute("aria-pressed", "true")
    assert len(row_uuids(page)) == len(RECENT_MINUTES)
    assert counter(page, "total") == len(RECENT_MINUTES)
    assert page.url.endswith("#range=5m")

    before = refreshes(page)
    hook(page, "range-7d").click()
    wait_for_view(page, before)
    assert counter(page, "total") == len(seeded.alerts) + len(seeded.older) == 55

    # Custom: from 20 to 5 minutes ago, in the inputs' local time.
    now = datetime.now().astimezone()
    hook(page, "range-custom").click()
    hook(page, "custom-from").fill((now - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S"))
    hook(page, "custom-to").fill((now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S"))
    before = refreshes(page)
    hook(page, "custom-apply").click()
    wait_for_view(page, before)
    in_range = [
        a.uuid
        for a in seeded.alerts
        if now - timedelta(minutes=20) <= _when(a) <= now - timedelta(minutes=5)
    ]
    assert in_range and sorted(row_uuids(page)) == sorted(in_range)
    assert "range=custom" in page.url


def test_an_empty_range_offers_the_newest_stored_alert(
    page: Page, server: DashboardServer, seeded: Seeded
) -> None:
    # Ninety to eighty days ago nothing was seeded (the demo's samples are such old alerts).
    now = datetime.now(UTC)
    empty = f"#range=custom&from={(now - timedelta(days=90)).isoformat()}&to={(now - timedelta(days=80)).isoformat()}"
    open_dashboard(page, server, empty.replace("+00:00", "Z"))
    newest = max(_when(a) for a in seeded.alerts)

    offer = hook(page, "no-events")
    expect(offer).to_contain_text("The newest stored alert is from")
    before = refreshes(page)
    hook(page, "show-newest").click()
    wait_for_view(page, before)

    assert "range=custom" in page.url
    assert set(row_uuids(page)) >= {a.uuid for a in seeded.alerts if _when(a) == newest}
    expect(hook(page, "show-newest")).to_have_count(0)


def test_the_detail_view_shows_every_output_field_and_the_raw_json(
    page_watch: tuple[Page, Watch], server: DashboardServer, seeded: Seeded
) -> None:
    page, watch = page_watch
    open_dashboard(page, server)
    alert = next(a for a in seeded.alerts if a.source == "aws_cloudtrail")

    page.locator(
        f'[data-testid="event-row"][data-uuid="{alert.uuid}"] [data-testid="open-detail"]'
    ).click()
    detail = hook(page, "detail")
    expect(detail).to_have_attribute("data-uuid", alert.uuid)
    expect(detail).to_be_visible()

    expect(hook(page, "detail-title")).to_contain_text(alert.rule)
    expect(hook(page, "detail-output")).to_have_text(alert.output)
    fields = hook(page, "detail-output-fields").locator("tr")
    shown = dict(
        zip(
            fields.locator("th").all_text_contents(),
            fields.locator("td").all_text_contents(),
            strict=True,
        )
    )
    assert shown == {k: str(v) for k, v in alert.fields.items()}
    assert json.loads(hook(page, "detail-raw").text_content() or "") == alert.doc
    expect(page).to_have_url(re.compile(f"alert={alert.uuid}"))

    hook(page, "detail-close").click()
    expect(detail).to_be_hidden()
    expect(page).not_to_have_url(re.compile("alert="))
    watch.assert_clean()


def test_export_downloads_the_alerts_in_view_as_json_lines(
    page: Page, server: DashboardServer, seeded: Seeded, tmp_path: Path
) -> None:
    open_dashboard(page, server)

    with page.expect_download() as info:
        hook(page, "export").click()
    download = info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)

    assert download.suggested_filename.startswith("lanner-alerts-")
    assert download.suggested_filename.endswith(".jsonl")
    lines = saved.read_text(encoding="utf-8").splitlines()
    docs = [json.loads(line) for line in lines]
    assert sorted(docs, key=lambda d: d["uuid"]) == sorted(
        (a.doc for a in seeded.alerts), key=lambda d: d["uuid"]
    )

    # With a filter, the export has what the view has.
    before = refreshes(page)
    hook(page, "counter-Critical").click()
    wait_for_view(page, before)
    with page.expect_download() as info:
        hook(page, "export").click()
    narrowed = [json.loads(line) for line in Path(info.value.path()).read_text().splitlines()]
    assert {d["uuid"] for d in narrowed} == {
        a.uuid for a in seeded.alerts if str(a.priority) in ("Emergency", "Alert", "Critical")
    }


def test_alert_text_is_shown_as_text_never_run(
    page_watch: tuple[Page, Watch], server: DashboardServer, seeded: Seeded
) -> None:
    page, watch = page_watch
    open_dashboard(page, server)
    hostile = next(a for a in seeded.alerts if a.rule == HOSTILE_RULE)
    row = page.locator(f'[data-testid="event-row"][data-uuid="{hostile.uuid}"]')

    expect(row.locator('[data-key="rule"]')).to_have_text(HOSTILE_RULE)
    expect(row.locator('[data-testid="output"]')).to_have_text(HOSTILE_OUTPUT)
    expect(row.locator('[data-key="hostname"]')).to_have_text(HOSTILE_HOST)
    assert page.locator("main img, main script, main svg, dialog img").count() == 0
    assert HOSTILE_RULE in chart(page, "rule")["labels"]

    row.locator('[data-testid="open-detail"]').click()
    expect(hook(page, "detail")).to_have_attribute("data-uuid", hostile.uuid)
    expect(hook(page, "detail-title")).to_contain_text(HOSTILE_RULE)
    expect(hook(page, "detail-output")).to_have_text(HOSTILE_OUTPUT)
    assert json.loads(hook(page, "detail-raw").text_content() or "")["output"] == HOSTILE_OUTPUT
    assert page.locator("main img, main script, main svg, dialog img, dialog svg").count() == 0

    # A filter from a hostile value round-trips through the URL hash as text too.
    before = refreshes(page)
    hook(page, "detail").locator('[data-key="rule"]').click()
    wait_for_view(page, before)
    expect(hook(page, "chip")).to_have_attribute("data-value", HOSTILE_RULE)
    assert row_uuids(page) == [hostile.uuid]
    assert page.evaluate("window.__pwned") is None
    watch.assert_clean()


def test_without_the_token_no_alert_data_is_asked_for_or_shown(
    page_watch: tuple[Page, Watch], server: DashboardServer, seeded: Seeded
) -> None:
    page, watch = page_watch
    page.goto(server.url + "#range=1h")

    expect(hook(page, "auth-message")).to_be_visible()
    expect(hook(page, "auth-message")).to_contain_text("Open the URL `lanner ui` printed")
    expect(hook(page, "login-form")).to_be_hidden()
    expect(page.locator("#app")).to_be_hidden()
    page.wait_for_load_state("networkidle")
    assert watch.api == []
    text = page.locator("body").inner_text()
    for alert in seeded.alerts:
        assert alert.rule not in text and alert.hostname not in text
    watch.assert_clean()


def test_a_refused_token_is_forgotten_and_the_page_says_how_to_get_in(
    page_watch: tuple[Page, Watch], server: DashboardServer, seeded: Seeded
) -> None:
    page, watch = page_watch
    page.goto(server.url + "?token=not-the-token#range=1h")

    expect(hook(page, "auth-message")).to_contain_text("Open the URL `lanner ui` printed")
    page.wait_for_load_state("networkidle")
    assert watch.api and all(status == 401 for _, status in watch.api)
    assert page.evaluate("sessionStorage.getItem('lanner.token')") is None
    assert "token" not in page.url
    text = page.locator("body").inner_text()
    for alert in seeded.alerts:
        assert alert.rule not in text
    # The browser reports each 401 on the console; nothing else may be there.
    assert all("401" in line for line in watch.console)
    assert watch.errors == [] and watch.csp_violations() == []


def test_load_more_follows_the_cursor(page: Page, server: DashboardServer, seeded: Seeded) -> None:
    open_dashboard(page, server, "#range=6h")

    expect(rows(page)).to_have_count(50)
    hook(page, "load-more").click()
    expect(rows(page)).to_have_count(55)
    expect(hook(page, "load-more")).to_be_hidden()
    assert sorted(row_uuids(page)) == sorted(a.uuid for a in [*seeded.alerts, *seeded.older])


def test_auto_refresh_loads_new_alerts_every_30_seconds(
    page: Page, server: DashboardServer, seeded: Seeded
) -> None:
    # A view of days that no other test looks at (before any preset reaches), so that the
    # alert written here changes nothing else.
    now = datetime.now(UTC)
    start, end = now - timedelta(days=41), now - timedelta(days=39)
    page.clock.install()
    open_dashboard(page, server, f"#range=custom&from={_iso(start)}&to={_iso(end)}")
    hook(page, "auto-refresh").check()
    assert counter(page, "total") == 0
    newer = seed(seeded.store, [_doc(KINDS[3], now - timedelta(days=40), 99)])
    before = refreshes(page)

    page.clock.run_for(31_000)
    wait_for_view(page, before)

    assert counter(page, "total") == 1
    assert row_uuids(page) == [newer[0].uuid]


def test_dark_mode_follows_the_system_and_toggles(
    browser: Browser, server: DashboardServer
) -> None:
    page, watch = new_page(browser, LAPTOP, color_scheme="dark")
    try:
        open_dashboard(page, server)
        background = "getComputedStyle(document.body).backgroundColor"
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        dark = page.evaluate(background)

        hook(page, "theme-toggle").click()
        assert page.evaluate("document.documentElement.dataset.theme") == "light"
        assert page.evaluate(background) != dark
        assert chart_counts(page, "source")["syscall"] == 23  # the charts are drawn again
        watch.assert_clean()
    finally:
        page.context.close()


def test_a_phone_gets_the_page_without_sideways_scrolling(
    browser: Browser, server: DashboardServer, seeded: Seeded
) -> None:
    page, watch = new_page(browser, PHONE, is_mobile=True, has_touch=True)
    try:
        open_dashboard(page, server)
        wide = "document.documentElement.scrollWidth - window.innerWidth"
        assert page.evaluate(wide) <= 0
        expect(rows(page)).to_have_count(30)
        for name in ("counter-total", "chart-timeline", "events-table", "search-input"):
            box = hook(page, name).bounding_box()
            assert (
                box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
            ), name

        rows(page).first.locator('[data-testid="open-detail"]').click()
        expect(hook(page, "detail")).to_have_attribute("data-uuid", seeded.alerts[0].uuid)
        box = hook(page, "detail").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert page.evaluate(wide) <= 0
        watch.assert_clean()
    finally:
        page.context.close()


# --- Cognito sign-in (cloud mode) ----------------------------------------------------------


def test_cognito_sign_in_with_a_new_password_then_the_access_token(
    browser: Browser, seeded: Seeded, server: DashboardServer, module_aws: str
) -> None:
    """The page signs in against Cognito's own API (moto's, reached through the browser's
    request routing), answers NEW_PASSWORD_REQUIRED, and sends the access token it got.
    In front of the API, a route plays API Gateway's JWT authorizer: it lets through only
    requests carrying that access token."""
    cognito = UserPool(module_aws)
    cognito.client.admin_create_user(
        UserPoolId=cognito.pool_id, Username="alice", TemporaryPassword="Temp-Passw0rd!"
    )
    issued = cognito.issued

    dashboard_handler.serve(seeded.store, cognito.config)  # as the Lambda with a user pool
    page, watch = new_page(browser, LAPTOP)
    try:
        cognito.route(page, server)
        page.goto(server.url + "#range=1h")

        expect(hook(page, "login-form")).to_be_visible()
        assert watch.api == []
        hook(page, "login-username").fill("alice")
        hook(page, "login-password").fill("wrong-password")
        hook(page, "login-submit").click()
        expect(hook(page, "login-error")).to_contain_text("Sign-in failed")

        hook(page, "login-password").fill("Temp-Passw0rd!")
        hook(page, "login-submit").click()
        expect(hook(page, "login-new-password")).to_be_visible()
        hook(page, "login-new-password").fill("A-New-Passw0rd!")
        hook(page, "login-submit").click()
        wait_for_view(page, 0)

        assert counter(page, "total") == 30
        assert cognito.targets() == [
            "InitiateAuth USER_PASSWORD_AUTH",
            "InitiateAuth USER_PASSWORD_AUTH",
            "RespondToAuthChallenge",
        ]
        # When the access token is about to expire, one refresh, then the new token.
        page.evaluate(
            """() => {
              const session = JSON.parse(sessionStorage.getItem("lanner.cognito"));
              session.expiresAt = Date.now();
              sessionStorage.setItem("lanner.cognito", JSON.stringify(session));
            }"""
        )
        before = refreshes(page)
        hook(page, "refresh").click()
        wait_for_view(page, before)
        assert cognito.targets()[3:] == ["InitiateAuth REFRESH_TOKEN_AUTH"]
        assert len(issued) == 2 and issued[0] != issued[1]
        assert watch.api and all(status == 200 for _, status in watch.api)

        hook(page, "logout").click()
        expect(hook(page, "login-form")).to_be_visible()
        expect(page.locator("#app")).to_be_hidden()
        assert page.evaluate("sessionStorage.length") == 0
    finally:
        page.context.close()
        dashboard_handler.serve(seeded.store, dashboard_handler.page_config({}))


def test_cognito_sign_in_with_the_authenticator_apps_code(
    browser: Browser,
    seeded: Seeded,
    server: DashboardServer,
    module_aws: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A user with TOTP MFA on: Cognito (moto's, checking codes against the secret it gave
    out) answers the password with SOFTWARE_TOKEN_MFA; the page asks for the code, says so
    when it is wrong and shows nothing, and signs in with the right one."""
    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")  # else any code passes
    cognito = UserPool(module_aws, MfaConfiguration="OPTIONAL")
    idp, pool_id = cognito.client, cognito.pool_id
    idp.admin_create_user(UserPoolId=pool_id, Username="bob", TemporaryPassword="Temp-Passw0rd!")
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username="bob", Password="Bobs-Passw0rd!", Permanent=True
    )
    # What docs/dashboard.md tells a user to do once with the AWS CLI.
    signed_in = idp.initiate_auth(
        ClientId=cognito.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "bob", "PASSWORD": "Bobs-Passw0rd!"},
    )["AuthenticationResult"]["AccessToken"]
    secret = idp.associate_software_token(AccessToken=signed_in)["SecretCode"]
    idp.verify_software_token(AccessToken=signed_in, UserCode=_authenticator_code(secret))
    idp.set_user_mfa_preference(
        AccessToken=signed_in, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    issued = cognito.issued

    dashboard_handler.serve(seeded.store, cognito.config)
    page, watch = new_page(browser, LAPTOP)
    try:
        cognito.route(page, server)
        page.goto(server.url + "#range=1h")

        expect(hook(page, "login-form")).to_be_visible()
        expect(hook(page, "login-mfa-code")).to_be_hidden()
        hook(page, "login-username").fill("bob")
        hook(page, "login-password").fill("Bobs-Passw0rd!")
        hook(page, "login-submit").click()
        code = hook(page, "login-mfa-code")
        expect(code).to_be_visible()
        expect(hook(page, "login-password")).to_be_hidden()
        expect(hook(page, "auth-message")).to_contain_text("authenticator app")
        assert code.get_attribute("autocomplete") == "one-time-code"
        assert code.get_attribute("inputmode") == "numeric"

        right = _authenticator_code(secret)
        code.fill(f"{(int(right) + 1) % 1_000_000:06d}")
        hook(page, "login-submit").click()
        expect(hook(page, "login-error")).to_contain_text("wrong code")
        expect(code).to_be_visible()
        expect(page.locator("#app")).to_be_hidden()
        assert issued == [] and watch.api == []

        code.fill(_authenticator_code(secret))
        hook(page, "login-submit").click()
        wait_for_view(page, 0)
        assert counter(page, "total") == 30
        expect(rows(page).first).to_be_visible()
        sent = [body for _, body in cognito.sent]
        assert cognito.targets() == [
            "InitiateAuth USER_PASSWORD_AUTH",
            *["RespondToAuthChallenge"] * 2,
        ]
        assert [body.get("ChallengeName") for body in sent] == [
            None,
            "SOFTWARE_TOKEN_MFA",
            "SOFTWARE_TOKEN_MFA",
        ]
        answer = sent[-1]
        assert set(answer["ChallengeResponses"]) == {"USERNAME", "SOFTWARE_TOKEN_MFA_CODE"}
        assert answer["ChallengeResponses"]["USERNAME"] == "bob"
        assert answer["Session"] == sent[1]["Session"]
        assert len(issued) == 1 and watch.api and all(status == 200 for _, status in watch.api)
        # The wrong code's 400 is the browser's one console error; no exception, no CSP report.
        assert len(watch.console) == 1 and "400" in watch.console[0]
        watch.console.clear()
        watch.assert_clean()
    finally:
        page.context.close()
        dashboard_handler.serve(seeded.store, dashboard_handler.page_config({}))


class UserPool:
    """A Cognito user pool and the page's app client on moto, and the two routes a signed-in
    page goes through: Cognito's API (moto's, reached through the browser's request routing,
    with the CORS answers Cognito gives) and, in front of /api/, API Gateway's JWT
    authorizer, which lets through only the newest access token Cognito issued."""

    REGION = "us-east-1"

    def __init__(self, moto: str, **pool: Any) -> None:
        self.moto = moto
        self.client = boto3.client("cognito-idp")
        self.pool_id = self.client.create_user_pool(PoolName="lanner-dashboard", **pool)[
            "UserPool"
        ]["Id"]
        self.client_id = self.client.create_user_pool_client(
            UserPoolId=self.pool_id,
            ClientName="page",
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        self.config = {
            "auth": "cognito",
            "region": self.REGION,
            "user_pool_id": self.pool_id,
            "client_id": self.client_id,
        }
        self.sent: list[tuple[str, dict[str, Any]]] = []  # (X-Amz-Target's action, body)
        self.issued: list[str] = []  # access tokens, in order

    def targets(self) -> list[str]:
        """What the page asked Cognito: ``InitiateAuth USER_PASSWORD_AUTH``, ..."""
        return [f"{a} {b['AuthFlow']}" if "AuthFlow" in b else a for a, b in self.sent]

    def route(self, page: Page, server: DashboardServer) -> None:
        def cognito_api(route: Route) -> None:
            if route.request.method == "OPTIONS":  # the CORS preflight Cognito answers
                route.fulfill(status=200, headers=_cors())
                return
            action = route.request.headers.get("x-amz-target", "").rpartition(".")[2]
            self.sent.append((action, json.loads(route.request.post_data or "{}")))
            answer = route.fetch(url=f"{self.moto}/", headers=route.request.headers)
            token = answer.json().get("AuthenticationResult", {}).get("AccessToken")
            if token:
                self.issued.append(token)
            route.fulfill(response=answer, headers={**answer.headers, **_cors()})

        def authorizer(route: Route) -> None:
            sent = route.request.headers.get("authorization", "")
            if self.issued and sent == f"Bearer {self.issued[-1]}":
                token = f"Bearer {server.token}"
                route.continue_(headers={**route.request.headers, "authorization": token})
            else:
                route.fulfill(status=401, json={"message": "Unauthorized"})

        page.route(f"https://cognito-idp.{self.REGION}.amazonaws.com/**", cognito_api)
        page.route("**/api/**", authorizer)


def _authenticator_code(secret: str) -> str:
    """The code an authenticator app shows for ``secret`` (RFC 6238: SHA-1, 6 digits, 30 s),
    taken early enough in its 30 seconds to still be current when Cognito checks it."""
    while time.time() % 30 > 25:
        time.sleep(0.5)
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    totp = TOTP(key, 6, SHA1(), 30, enforce_key_length=False)
    return totp.generate(time.time()).decode()


def _cors() -> dict[str, str]:
    return {
        "access-control-allow-origin": "*",
        "access-control-allow-headers": "content-type, x-amz-target, x-amz-user-agent",
        "access-control-allow-methods": "POST",
    }


# --- the screenshot in docs/ ---------------------------------------------------------------


# A day of a small cluster's alerts: (kind, how many in 24 hours, hosts it happens on).
DAY = (
    (KINDS[0], 120),
    (KINDS[1], 45),
    (KINDS[2], 70),
    (KINDS[3], 14),
    (KINDS[4], 6),
    (KINDS[5], 4),
    (KINDS[6], 25),
    (
        Kind(
            "Container Runs Binary Added After Start",
            "Critical",
            "syscall",
            ("container", "mitre_persistence", "T1525"),
            "Executing binary not part of base image (proc=/tmp/xmrig image=python:3.12)",
            1,
        ),
        9,
    ),
    (
        Kind(
            "K8s Secret Read By Unexpected Identity",
            "Warning",
            "k8s_audit",
            ("k8s", "mitre_credential_access", "T1552"),
            "Secret read by an identity that does not usually (user=ci-runner secret=db-creds)",
            1,
        ),
        30,
    ),
    (
        Kind(
            "AWS Security Group Opened To The Internet",
            "Error",
            "aws_cloudtrail",
            ("aws", "network", "mitre_defense_evasion", "T1562"),
            "Security group opened to 0.0.0.0/0 (group=sg-0a1b2c port=22 user=bob)",
            1,
        ),
        8,
    ),
)


def day_docs(now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    """Alerts over the last 24 hours, busier in working hours, with a burst an hour ago."""
    docs = []
    for kind, n in DAY:
        for i in range(n):
            hours = rng.triangular(0, 24, 4) if rng.random() < 0.92 else rng.uniform(0.8, 1.3)
            doc = _doc(kind, now - timedelta(hours=hours), rng.randrange(1000))
            doc["output"] = doc["output"].rsplit(" #", 1)[0]
            docs.append(doc)
            if kind.priority == "Warning" and i % 40 == 0:
                docs[-1]["repeat"] = {
                    "count": rng.randrange(5, 40),
                    "hosts": 3,
                    "host_names": list(HOSTS),
                    "first_seen": falco_time(now - timedelta(hours=hours, minutes=5)),
                    "last_seen": doc["time"],
                    "window_seconds": 300,
                }
    return docs


def screenshot(path: Path, *, theme: str = "light") -> None:
    """Seeds a day of alerts on moto and saves the dashboard (laptop width) to ``path``."""
    import boto3

    from cli.demo import local_aws
    from dashboard.table import create_alert_store_table

    if CHROMIUM is None:
        raise SystemExit("chromium is not installed")
    with local_aws():
        client = boto3.client("dynamodb")
        create_alert_store_table(client, TABLE)
        store = AlertStore(lambda: client, TABLE)
        seed(store, day_docs(datetime.now(UTC), random.Random(14)))
        with (
            DashboardServer(store) as running,
            sync_playwright() as pw,
        ):
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            page, watch = new_page(browser, LAPTOP, color_scheme=theme)
            open_dashboard(page, running, "")
            page.screenshot(path=str(path), type="png")
            watch.assert_clean()
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", type=Path, required=True, help="where to save the PNG")
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    args = parser.parse_args(argv)
    screenshot(args.screenshot, theme=args.theme)
    print(f"{args.screenshot}: {args.screenshot.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
