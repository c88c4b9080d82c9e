"""The ``lanner`` command line: validate and list rules, list fields, scan recorded events."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import click

from cli.ui import SNAPSHOT_NAME
from deliver.inert import inert
from deliver.lines import alert_line, write_line
from lanner import (
    Alert,
    Engine,
    LannerError,
    Priority,
    RuleLoadErrors,
    RuleSet,
    builtin_sources,
    compile_rules,
    load_rules,
)

SOURCE_NAMES = ("k8s_audit", "aws_cloudtrail", "json", "syscall")
SCAN_FORMATS = ("text", "json", "ocsf")
_SA = "/var/run/secrets/kubernetes.io/serviceaccount/"  # the pod's service-account mount
# Where `lanner demo` works and leaves the alert store that `lanner ui` serves.
DEMO_WORKDIR = ".lanner-demo"


def default_rules_dir() -> Path:
    """The bundled rules: ``$LANNER_RULES_DIR``, else the installed (or checkout's) ``rules/``."""
    env = os.environ.get("LANNER_RULES_DIR")
    if env:
        return Path(env)
    from lanner.resources import rules_dir

    return rules_dir()


def _rule_paths(paths: Sequence[str]) -> list[str]:
    return list(paths) if paths else [str(default_rules_dir())]


def _fail_load(exc: LannerError, status: int = 1) -> None:
    errors = exc.errors if isinstance(exc, RuleLoadErrors) else [exc]
    warnings = list(getattr(exc, "warnings", []) or [])
    for e in errors:
        click.echo(inert(str(e)), err=True)
    for w in warnings:  # an unknown key is often why the error happened: show both
        click.echo(inert(str(w)), err=True)
    line = f"{len(errors)} error(s)"
    click.echo(line + (f", {len(warnings)} warning(s)" if warnings else ""), err=True)
    sys.exit(status)


def _load(paths: Sequence[str], min_priority: str | None = None) -> tuple[RuleSet, Engine]:
    try:
        ruleset = load_rules(_rule_paths(paths))
        engine = compile_rules(ruleset, min_priority=min_priority or Priority.DEBUG)
    except LannerError as exc:
        _fail_load(exc)
        raise  # unreachable: _fail_load exits
    return ruleset, engine


def _print_warnings(engine: Engine) -> None:
    for w in engine.warnings:
        click.echo(str(w), err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lanner")
def main() -> None:
    """lanner: Falco-compatible threat detection for AWS and EKS."""


@main.group()
def rules() -> None:
    """Validate, list and test rules."""


_rules_option = click.option(
    "-r",
    "--rules",
    "rule_paths",
    multiple=True,
    metavar="PATH",
    help="Rules file or directory (files in name order); repeatable. Default: bundled rules.",
)


@rules.command("validate")
@_rules_option
def rules_validate(rule_paths: tuple[str, ...]) -> None:
    """Check rules files; print a summary, or every error with FILE:LINE:COL."""
    ruleset, engine = _load(rule_paths)
    _print_warnings(engine)
    per_source = Counter(r.source for r in ruleset.rules)
    parts = [f"{src}: {n} rules" for src, n in per_source.items()]
    click.echo(
        f"valid: {len(ruleset.files)} file(s); {'; '.join(parts) or 'no rules'}; "
        f"{len(ruleset.macros)} macros, {len(ruleset.lists)} lists; "
        f"{len(engine.warnings)} warning(s)"
    )


@rules.command("list")
@_rules_option
@click.option("--source", type=click.Choice(SOURCE_NAMES), help="Only rules of this source.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per rule.")
def rules_list(rule_paths: tuple[str, ...], source: str | None, as_json: bool) -> None:
    """List the loaded rules in evaluation order."""
    ruleset, _engine = _load(rule_paths)
    for r in ruleset.rules:
        if source and r.source != source:
            continue
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "name": r.name,
                        "source": r.source,
                        "priority": str(r.priority),
                        "enabled": r.enabled,
                        "tags": list(r.tags),
                        "desc": r.desc,
                        "condition": r.condition_text.strip(),
                        "output": r.output,
                        "location": str(r.location),
                    }
                )
            )
        else:
            state = "" if r.enabled else "  (disabled)"
            click.echo(f"{r.source:<15} {r.priority!s:<13} {r.name}{state}")


@rules.command("test")
@_rules_option
@click.option(
    "--require-tests",
    is_flag=True,
    help="Fail on rules with no example, or without both a fires and a quiet one.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per rule.")
@click.argument("testdir", required=False, type=click.Path())
def rules_test(
    rule_paths: tuple[str, ...], require_tests: bool, as_json: bool, testdir: str | None
) -> None:
    """Run rule tests: events each rule must fire on, near misses it must stay quiet on.

    TESTDIR holds the test files (*.yaml, at any depth); default: tests/ beside the
    bundled rules. Each example runs alone against every loaded rule.

    \b
    Exit status:
      0  every tested rule passed (with --require-tests: every rule is tested
         with a fires and a quiet example, and passed)
      1  an example failed, or --require-tests and a rule lacks examples
      2  the rules or the test files are unusable (each error with FILE:LINE:COL)
    """
    from lanner.ruletests import load_rule_tests, rule_test_files, run_rule_tests

    root = Path(testdir) if testdir else default_rules_dir() / "tests"
    if not root.exists():
        click.echo(inert(f"{root}: error: no such test file or directory"), err=True)
        sys.exit(2)
    try:
        ruleset = load_rules(_rule_paths(rule_paths))
        tests = load_rule_tests(rule_test_files(root), ruleset)
        results = run_rule_tests(ruleset, tests)
    except LannerError as exc:
        _fail_load(exc, status=2)
        raise  # unreachable: _fail_load exits
    counts: Counter[str] = Counter(r.status for r in results)
    for r in results:
        if as_json:
            failures = [
                {
                    "location": str(f.example.location),
                    "kind": f.example.kind,
                    "about": f.example.about,
                    "reason": f.reason,
                }
                for f in r.failures
            ]
            record = {
                "rule": r.rule,
                "source": r.source,
                "status": r.status,
                "fires": r.fires,
                "quiet": r.quiet,
                "missing": list(r.missing),
                "failures": failures,
            }
            click.echo(json.dumps(record))
            continue
        # Rule names, file names and the alert lines quoted in reasons are user text.
        name = inert(r.rule)
        if r.status == "PASS":
            click.echo(f"PASS  {name}  ({r.fires} fires, {r.quiet} quiet)")
        elif r.status == "UNTESTED":
            click.echo(f"UNTESTED  {name}")
        elif r.status == "INCOMPLETE":
            click.echo(f"INCOMPLETE  {name}: no {' and no '.join(r.missing)} example")
        else:
            tested = r.fires + r.quiet
            lacks = "".join(f"; no {kind} example" for kind in r.missing)
            click.echo(f"FAIL  {name}: {len(r.failures)} of {tested} example(s) failed{lacks}")
            for f in r.failures:
                click.echo(f"      {inert(str(f))}")
    examples = sum(r.fires + r.quiet for r in results)
    click.echo(
        f"{len(results)} rules: {counts['PASS']} passed, {counts['FAIL']} failed, "
        f"{counts['UNTESTED']} untested, {counts['INCOMPLETE']} incomplete; "
        f"{examples} examples in {len(tests.files)} file(s)",
        err=as_json,
    )
    lacking = counts["UNTESTED"] + counts["INCOMPLETE"]
    if counts["FAIL"] or (require_tests and lacking):
        sys.exit(1)


@main.command("fields")
@click.option("--source", type=click.Choice(SOURCE_NAMES), help="Only this source's fields.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per field.")
def fields(source: str | None, as_json: bool) -> None:
    """List the fields rules can use, per source, with type and description."""
    for name, src in builtin_sources().items():
        if source and name != source:
            continue
        if not as_json:
            click.echo(f"# {name}")
        for f in src.fields:
            if as_json:
                click.echo(
                    json.dumps(
                        {
                            "source": name,
                            "name": f.name,
                            "type": f.type.value,
                            "arg": f.arg.value,
                            "list": f.is_list,
                            "desc": f.desc,
                        }
                    )
                )
            else:
                arg = "" if f.arg.value == "none" else f"[{f.arg.value}]"
                kind = f.type.value + (" list" if f.is_list else "")
                click.echo(f"{f.name + arg:<40} {kind:<14} {f.desc}")
        if not as_json:
            click.echo()


class _Progress:
    """A one-line progress report on a terminal, shown only once a scan takes a moment."""

    def __init__(self, stream: TextIO, total_files: int) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.total = total_files
        self.start = time.monotonic()
        self.last = 0.0
        self.shown = False

    def update(self, files: int, events: int, alerts: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start < 0.5 or now - self.last < 0.1:
            return
        self.last = now
        self.shown = True
        rate = events / max(now - self.start, 1e-9)
        self.stream.write(
            f"\r{files}/{self.total} files, {events} events ({rate:,.0f}/s), {alerts} alerts "
        )
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


@main.command("scan")
@_rules_option
@click.option(
    "--source",
    type=click.Choice(SOURCE_NAMES),
    help="Source of the events; detected per record when omitted.",
)
@click.option(
    "--format",
    "out_format",
    type=click.Choice(SCAN_FORMATS),
    help="text: Falco's alert line (default); json: Falco's JSON schema; "
    "ocsf: an OCSF Detection Finding. One alert per line.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option(
    "--min-priority",
    type=click.Choice([p.name.lower() for p in Priority], case_sensitive=False),
    help="Drop rules less severe than this.",
)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def scan(
    rule_paths: tuple[str, ...],
    source: str | None,
    out_format: str | None,
    as_json: bool,
    min_priority: str | None,
    paths: tuple[str, ...],
) -> None:
    """Evaluate rules over recorded events: CloudTrail, audit logs, JSON lines, directories.

    Text lines show control characters in event values escaped (\\n, \\u001b), so an
    alert is always one line; --json and --format ocsf keep values exact (JSON escapes them).

    \b
    Exit status:
      0  every input was read (alerts or not)
      1  an input could not be read or a record was bad (each one is
         reported on stderr with its location; the rest was scanned),
         or the rules did not load
      2  usage error
    """
    from cli.readers import BadInput, count_inputs, read_paths

    if as_json and out_format not in (None, "json"):
        raise click.UsageError(f"--json and --format {out_format} disagree: choose one.")
    render = _renderer(out_format or ("json" if as_json else "text"))
    _ruleset, engine = _load(rule_paths, min_priority)
    _print_warnings(engine)
    events: Counter[str] = Counter()
    alerts: Counter[str] = Counter()
    bad = 0
    origins: set[str] = set()
    progress = _Progress(sys.stderr, count_inputs(paths))
    out = sys.stdout
    try:
        for item in read_paths(paths, source):
            if isinstance(item, BadInput):
                bad += 1
                progress.close()
                # Both can come from the input (a file name, a quoted record): made inert.
                click.echo(f"{inert(item.origin)}: bad input: {inert(item.message)}", err=True)
                continue
            events[item.source] += 1
            origins.add(item.origin.split(":", 1)[0])
            if item.source not in engine.sources:
                continue
            for alert in engine.evaluate(item.doc, item.source):
                alerts[alert.rule] += 1
                write_line(out, render(alert))
            progress.update(len(origins), sum(events.values()), sum(alerts.values()))
    except BrokenPipeError:  # `lanner scan ... | head`
        sys.stderr.close()
        sys.exit(0)
    finally:
        progress.close()
    out.flush()
    _summary(events, alerts, bad, engine)
    if bad:
        # A CI job that scans a mistyped path, or a file cut short, must not pass.
        sys.exit(1)


def _renderer(out_format: str) -> Callable[[Alert], str]:
    """An alert as one output line in ``out_format`` (text, json or ocsf)."""
    if out_format == "json":
        return Alert.to_json
    if out_format != "ocsf":
        return alert_line
    try:  # the delivery side (pydantic, py-ocsf-models) only when asked for
        from deliver.alert import parse_alert
        from deliver.fingerprint import FingerprintConfigError, fingerprint, load_overrides
        from deliver.ocsf import to_ocsf_json
    except ImportError as exc:
        raise click.UsageError(
            f"--format ocsf needs lanner's delivery modules and py-ocsf-models ({exc})"
        ) from None
    try:
        overrides = load_overrides()
    except FingerprintConfigError as exc:
        raise click.UsageError(str(exc)) from None

    def ocsf(alert: Alert) -> str:
        checked = parse_alert(alert.to_dict())
        return to_ocsf_json(checked, fingerprint(checked, overrides))

    return ocsf


def _summary(events: Counter[str], alerts: Counter[str], bad: int, engine: Engine) -> None:
    per_source = ", ".join(f"{s}: {n}" for s, n in sorted(events.items()))
    line = (
        f"scanned {sum(events.values())} events ({per_source or 'none'}); "
        f"{sum(alerts.values())} alerts; {bad} bad input(s)"
    )
    if engine.stats.rule_errors:
        line += f"; {engine.stats.rule_errors} rule evaluation error(s)"
    click.echo(line, err=True)
    for rule, n in alerts.most_common():
        click.echo(f"  {n:>6}  {inert(rule)}", err=True)
    for msg in engine.stats.last_errors:  # may quote the event's values
        click.echo(f"  error: {inert(msg)}", err=True)


def _sensor_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """``--config FILE`` (eager): the file's settings become the command's ``default_map``,
    below what the command line gives (``sensor.config``). A file with problems: each one
    on a line (FILE:LINE:COL), exit 2."""
    if value is None:
        return
    from sensor.config import ConfigError, load_config

    try:
        config = load_config(value)
    except ConfigError as exc:
        for line in exc.lines:
            _say(line)
        ctx.exit(2)
    ctx.default_map = {**(ctx.default_map or {}), **config.default_map()}


@main.command("sensor")
@_rules_option
@click.option("--json", "as_json", is_flag=True, help="One Falco-schema JSON alert per line.")
@click.option(
    "--record",
    type=click.Path(dir_okay=False),
    help="Also write captured events here, gzip-compressed (lanner scan replays them).",
)
@click.option(
    "--min-priority",
    type=click.Choice([p.name.lower() for p in Priority], case_sensitive=False),
    help="Drop rules less severe than this.",
)
@click.option("--duration", type=float, help="Stop after this many seconds (default: never).")
@click.option(
    "--host-root",
    default=lambda: os.environ.get("HOST_ROOT", "/"),
    show_default="$HOST_ROOT or /",
    help="Where the host's /proc, /etc and /sys are mounted (a DaemonSet mounts them under /host).",
)
@click.option(
    "--heartbeat",
    type=click.Path(dir_okay=False),
    default=lambda: os.environ.get("LANNER_HEARTBEAT", "/run/lanner/heartbeat"),
    help="File the sensor touches every few seconds; --check reads it.",
)
@click.option(
    "--k8s-api-url",
    metavar="URL",
    help="Kubernetes API server (https://kubernetes.default.svc): pod name, namespace, "
    "labels, images and privileged containers of this node's pods, watched (RBAC list and "
    "watch on pods). Off when not given.",
)
@click.option(
    "--k8s-token",
    metavar="FILE",
    default=_SA + "token",
    show_default=True,
    help="Bearer token file for the API server (read again on every request).",
)
@click.option(
    "--k8s-ca",
    metavar="FILE",
    default=_SA + "ca.crt",
    show_default=True,
    help="The cluster CA: the API server's certificate is always verified against it.",
)
@click.option(
    "--node-name",
    metavar="NAME",
    default=lambda: os.environ.get("NODE_NAME") or None,
    show_default="$NODE_NAME",
    help="This node's name in Kubernetes: whose pods are watched, the events' evt.hostname "
    "and the Kinesis partition key (default: the host name).",
)
@click.option(
    "--kubelet-url",
    default=lambda: os.environ.get("LANNER_KUBELET_URL"),
    help="Instead of --k8s-api-url: the kubelet's pods endpoint (https://NODE_IP:10250/pods), "
    "for clusters whose kubelet authorizes nodes/pods (fine-grained kubelet authorization).",
)
@click.option(
    "--kubelet-token",
    default=_SA + "token",
    show_default=True,
    help="Bearer token file for the kubelet (needs RBAC get on nodes/pods).",
)
@click.option(
    "--kubelet-ca",
    default=_SA + "ca.crt",
    show_default=True,
    help="CA the kubelet's certificate is verified against.",
)
# Removed (it sent the token to an unverified kubelet); still parsed, to say so in one line.
@click.option("--kubelet-insecure", is_flag=True, hidden=True)
@click.option(
    "--metrics-listen",
    metavar="HOST:PORT",
    help="Serve Prometheus metrics (lanner_*) at http://HOST:PORT/metrics, e.g. "
    "0.0.0.0:9376 or [::]:9376 (port 0: any free port, said at start). Off when not given.",
)
@click.option(
    "-t",
    "only_tags",
    multiple=True,
    metavar="TAG",
    help="Run only the rules that have this tag (repeatable), as Falco's -t.",
)
@click.option(
    "-T",
    "disabled_tags",
    multiple=True,
    metavar="TAG",
    help="Turn off the rules that have this tag (repeatable), as Falco's -T.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    is_eager=True,
    expose_value=False,
    callback=_sensor_config,
    help="YAML file with any of these options; options given here override it.",
)
@click.option(
    "--kinesis-stream",
    metavar="NAME",
    help="Also ship the events that raised an alert, and the node's own alerts, to this "
    "Kinesis stream (region and endpoint from the AWS environment).",
)
@click.option(
    "--spool-dir",
    type=click.Path(file_okay=False),
    default="/var/lib/lanner/spool",
    show_default=True,
    help="Where records wait while Kinesis is unreachable or throttling (kept across restarts).",
)
@click.option(
    "--spool-max-mb",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Spool bound; when full, new records are dropped, counted and reported.",
)
@click.option(
    "--no-prefilter",
    "no_prefilter",
    is_flag=True,
    help="Build and evaluate every event of the rules' event types, even those whose own "
    "fields (path, arguments, result) no rule can match; alerts are the same, at more cost.",
)
@click.option("--check", is_flag=True, help="Exit 0 if a running sensor's heartbeat is fresh.")
def sensor(
    rule_paths: tuple[str, ...],
    as_json: bool,
    record: str | None,
    min_priority: str | None,
    duration: float | None,
    host_root: str,
    heartbeat: str,
    k8s_api_url: str | None,
    k8s_token: str,
    k8s_ca: str,
    node_name: str | None,
    kubelet_url: str | None,
    kubelet_token: str,
    kubelet_ca: str,
    kubelet_insecure: bool,
    metrics_listen: str | None,
    only_tags: tuple[str, ...],
    disabled_tags: tuple[str, ...],
    kinesis_stream: str | None,
    spool_dir: str,
    spool_max_mb: int,
    no_prefilter: bool,
    check: bool,
) -> None:
    """Capture syscalls on this host with eBPF and print alerts, as Falco does.

    With --kinesis-stream, the events that raised an alert on this node (enriched, in
    lanner's record format, packed into ~24 KB records) and the node's own alerts (lost
    events) also go to that Kinesis stream, where the detector evaluates them again. Alerts
    are still printed: they are the node's log. Records Kinesis does not take wait in the
    spool and are sent when it does; on SIGTERM, what is unsent is sent or spooled.

    The rules are loaded again on SIGHUP and when a rules file changes; rules that do not
    load are reported with FILE:LINE:COL and the last good ones keep running.
    """
    from sensor.command import Rules, SensorOptions
    from sensor.command import check as check_heartbeat
    from sensor.command import main as run_sensor

    if kubelet_insecure:
        _say(
            "lanner sensor: --kubelet-insecure is removed: it sent the service account's "
            "token to a kubelet whose certificate was not checked; give the cluster CA "
            "(--kubelet-ca) or use --k8s-api-url"
        )
        sys.exit(2)
    if only_tags and disabled_tags:
        raise click.UsageError(
            "-t (run only the rules with a tag) and -T (turn rules off by tag) cannot be combined"
        )
    if check:
        sys.exit(check_heartbeat(heartbeat))

    def compile_sensor_rules() -> Engine:
        from lanner.selection import select_by_tags

        ruleset = load_rules(_rule_paths(rule_paths))
        chosen = select_by_tags(ruleset, only=only_tags, disable=disabled_tags)
        # The node's name, not the pod's: alerts that come from no event (the drop alert)
        # name the node as event-made ones do (evt.hostname).
        return compile_rules(
            chosen, min_priority=min_priority or Priority.DEBUG, hostname=node_name or None
        )

    def load_engine() -> Engine:
        try:
            engine = compile_sensor_rules()
        except LannerError as exc:
            _fail_load(exc)
            raise  # unreachable: _fail_load exits
        _print_warnings(engine)
        return engine

    options = SensorOptions(
        as_json=as_json,
        record=record,
        duration=duration,
        host_root=host_root,
        heartbeat=heartbeat,
        kubelet_url=kubelet_url,
        kubelet_token=kubelet_token,
        kubelet_ca=kubelet_ca,
        kinesis_stream=kinesis_stream,
        spool_dir=spool_dir,
        spool_max_mb=spool_max_mb,
        prefilter=not no_prefilter,
        metrics_listen=metrics_listen,
        k8s_api_url=k8s_api_url,
        k8s_token=k8s_token,
        k8s_ca=k8s_ca,
        node_name=node_name,
    )
    rules = Rules(tuple(_rule_paths(rule_paths)), compile_sensor_rules)
    status = run_sensor(options, load_engine, sys.stdout, _say, rules)
    if status:
        sys.exit(status)


def _say(line: str) -> None:
    click.echo(line, err=True)


@main.command()
@click.option(
    "--json", "as_json", is_flag=True, help="Each alert as one JSON line, as the endpoint got it."
)
@click.option(
    "--live/--replay",
    default=None,
    help="Node events from the live eBPF sensor, or the bundled recording "
    "(default: live when root with bcc).",
)
@click.option(
    "--workdir",
    default=DEMO_WORKDIR,
    show_default=True,
    help="Where the detectors' logs and metrics, and the alert store (for `lanner ui`), "
    "are written.",
)
def demo(as_json: bool, live: bool | None, workdir: str) -> None:
    """Run the whole pipeline locally: sensor -> Kinesis -> detector Lambdas -> SNS -> HTTP.

    AWS is moto, in this process, on 127.0.0.1; no account, no cluster, no network.
    The alerts are stored as in the stack's alert store: `lanner ui` shows them.
    """
    from cli.demo import DemoError, print_summary, run_demo

    try:
        summary = run_demo(
            as_json=as_json, live=live, out=sys.stdout, err=sys.stderr, workdir=Path(workdir)
        )
    except DemoError as exc:
        click.echo(f"lanner demo: {exc}", err=True)
        sys.exit(1)
    print_summary(summary, sys.stderr if as_json else sys.stdout)


@main.command()
@click.option(
    "--listen",
    default="127.0.0.1:0",
    show_default=True,
    metavar="HOST:PORT",
    help="Where to serve the dashboard (port 0: any free port). Another host than this "
    "machine's loopback lets other machines reach it: the token still guards every alert.",
)
@click.option(
    "--store",
    "store_path",
    default=str(Path(DEMO_WORKDIR) / SNAPSHOT_NAME),
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The alert store `lanner demo` wrote.",
)
def ui(listen: str, store_path: str) -> None:
    """Serve the alert dashboard on this machine, over the alerts `lanner demo` stored.

    Prints the URL to open, with a token made for this run in it: nothing but the page
    itself answers without that token. AWS is moto, in this process, on 127.0.0.1.
    """
    from cli.ui import run_ui

    status = run_ui(listen, Path(store_path), sys.stdout, sys.stderr)
    if status:
        sys.exit(status)


def _add_delivery_commands() -> None:
    from cli.notify import alerts, notify

    main.add_command(notify)
    main.add_command(alerts)


_add_delivery_commands()

if __name__ == "__main__":
    main()
