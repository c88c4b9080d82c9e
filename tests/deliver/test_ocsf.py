"""Alerts as OCSF Detection Findings: what py-ocsf-models accepts, severity and ATT&CK
mappings, summaries, and `lanner scan --format ocsf` over the bundled samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from py_ocsf_models import OCSF_VERSION
from py_ocsf_models.events.findings.detection_finding import DetectionFinding
from standins import SHELL_UUID, TRAIL, falco_alert, falco_doc, summary_of

from cli.main import main
from deliver.alert import DeliveryAlert
from deliver.ocsf import object_key, to_ocsf, to_ocsf_json
from deliver.severity import SEVERITIES
from lanner.priority import Priority

SAMPLES = Path(__file__).resolve().parent.parent.parent / "samples"

SHELL = falco_doc(uuid=SHELL_UUID)


def alert(doc: dict[str, Any] = SHELL, **changes: Any) -> DeliveryAlert:
    return falco_alert(doc, **changes)


def valid(finding: dict[str, Any]) -> DetectionFinding:
    """The package's model accepts the finding, and keeps all of it: nothing was ignored."""
    model = DetectionFinding.model_validate(finding)
    assert model.model_dump(mode="json", exclude_none=True) == finding
    return model


def test_a_runtime_alert_is_a_valid_detection_finding() -> None:
    finding = to_ocsf(alert(), "f" * 32)
    valid(finding)
    assert (finding["class_uid"], finding["category_uid"]) == (2004, 2)
    assert (finding["activity_id"], finding["type_uid"]) == (1, 200401)
    info = finding["finding_info"]
    assert info["uid"] == SHELL["uuid"]
    assert info["title"] == "Terminal shell in container"
    assert info["desc"].startswith("Shell spawned in a container (user=root")  # no time prefix
    assert info["analytic"] == {
        "name": "Terminal shell in container",
        "uid": "Terminal shell in container",
        "type": "Rule",
        "type_id": 1,
    }
    assert finding["message"] == SHELL["output"]
    assert finding["time"] == 1_767_357_296_123  # 2026-01-02T12:34:56.123Z
    meta = finding["metadata"]
    assert meta["product"]["name"] == meta["product"]["vendor_name"] == "lanner"
    assert meta["version"] == OCSF_VERSION
    assert meta["correlation_uid"] == "f" * 32
    assert {(r["type"], r.get("name")) for r in finding["resources"]} == {
        ("Host", "ip-10-0-1-23"),
        ("Pod", "web-7d9f8b6c4d-x2x9q"),
        ("Container", "web"),
    }
    pod = next(r for r in finding["resources"] if r["type"] == "Pod")
    assert pod["namespace"] == "prod"
    assert "cloud" not in finding and "count" not in finding
    unmapped = finding["unmapped"]
    assert unmapped["output_fields"] == SHELL["output_fields"]  # None kept: Falco's <NA>
    assert unmapped["source"] == "syscall"
    assert unmapped["tags"] == SHELL["tags"]
    assert json.loads(to_ocsf_json(alert(), "f" * 32)) == finding


def test_a_cloudtrail_alert_names_its_account_and_region() -> None:
    finding = to_ocsf(alert(TRAIL))
    valid(finding)
    assert finding["cloud"] == {
        "provider": "AWS",
        "region": "eu-west-1",
        "account": {"name": "123456789012", "uid": "123456789012", "type_id": 10},
    }
    assert finding["metadata"]["profiles"] == ["cloud"]
    assert "correlation_uid" not in finding["metadata"]
    # The detector function is not a place: no Host resource.
    assert finding["resources"] == [
        {"type": "Account", "uid": "123456789012", "region": "eu-west-1", "cloud_partition": "aws"}
    ]


@pytest.mark.parametrize("priority", list(Priority))
def test_severity_follows_the_one_table(priority: Priority) -> None:
    finding = to_ocsf(alert(priority=str(priority)))
    valid(finding)
    row = SEVERITIES[priority]
    assert finding["severity_id"] == row.ocsf_id
    assert finding["severity"] == row.ocsf_name
    assert finding["unmapped"]["priority"] == str(priority)


def test_attack_techniques_and_one_tactic_pair_up() -> None:
    attacks = to_ocsf(alert())["finding_info"]["attacks"]
    # T1059 beside T1059.004 says nothing more: one entry.
    assert attacks == [
        {
            "technique": {
                "uid": "T1059",
                "name": "T1059",
                "src_url": "https://attack.mitre.org/techniques/T1059/",
            },
            "sub_technique": {
                "uid": "T1059.004",
                "src_url": "https://attack.mitre.org/techniques/T1059/004/",
            },
            "tactic": {
                "uid": "TA0002",
                "name": "Execution",
                "src_url": "https://attack.mitre.org/tactics/TA0002/",
            },
        }
    ]


def test_several_tactics_are_not_guessed_onto_techniques() -> None:
    finding = to_ocsf(alert(TRAIL))
    valid(finding)
    attacks = finding["finding_info"]["attacks"]
    assert [a.get("technique", {}).get("uid") for a in attacks] == ["T1530", "T1485", None, None]
    assert all("tactic" not in a for a in attacks[:2])
    assert [a["tactic"]["uid"] for a in attacks[2:]] == ["TA0010", "TA0040"]


def test_no_attack_tags_no_attacks() -> None:
    finding = to_ocsf(alert(tags=["container"]))
    valid(finding)
    assert "attacks" not in finding["finding_info"]


def test_a_summary_carries_its_count_and_when() -> None:
    first = alert()
    seen = ("2026-01-02T12:34:56.123456789Z", "2026-01-02T12:38:10.5Z")
    summary = summary_of(first, 7, {"ip-10-0-1-23", "ip-10-0-1-24"}, *seen)
    finding = to_ocsf(summary, "k" * 32)
    valid(finding)
    assert finding["count"] == 7
    info = finding["finding_info"]
    assert info["uid"] == summary.uuid != first.uuid
    assert (info["first_seen_time"], info["last_seen_time"]) == (1_767_357_296_123, 1_767_357_490_500)
    assert (finding["start_time"], finding["end_time"]) == (1_767_357_296_123, 1_767_357_490_500)
    assert finding["duration"] == 194_377


def test_an_alert_without_a_time_is_stamped_now() -> None:
    finding = to_ocsf(alert(time=""))
    valid(finding)
    assert finding["time"] > 1_767_357_296_123
    assert "original_time" not in finding["metadata"]


def test_object_keys_are_by_event_hour_and_safe() -> None:
    assert object_key(alert()) == f"ocsf/2026/01/02/12/{SHELL['uuid']}.json"
    odd = alert(uuid="../../etc/passwd x")
    assert object_key(odd, "lake/") == "lake/2026/01/02/12/.._.._etc_passwd_x.json"


# --- lanner scan --format ocsf ---------------------------------------------------------


def scan(*args: str) -> Any:
    return CliRunner().invoke(main, ["scan", *args], catch_exceptions=False)


@pytest.mark.parametrize("sample", ["k8s", "AWSLogs"])
def test_scan_prints_one_valid_finding_per_alert(sample: str) -> None:
    path = str(SAMPLES / sample)
    as_json = scan("--json", path)
    as_ocsf = scan("--format", "ocsf", path)
    assert as_json.exit_code == as_ocsf.exit_code == 0
    alerts = [json.loads(line) for line in as_json.stdout.splitlines()]
    findings = [json.loads(line) for line in as_ocsf.stdout.splitlines()]
    assert alerts and len(findings) == len(alerts)
    for doc, finding in zip(alerts, findings, strict=True):
        valid(finding)
        assert finding["finding_info"]["uid"] == doc["uuid"]
        assert finding["finding_info"]["title"] == doc["rule"]
        assert finding["message"] == doc["output"]
        assert len(finding["metadata"]["correlation_uid"]) == 32
        assert finding["severity_id"] == SEVERITIES[Priority.parse(doc["priority"])].ocsf_id
        region = doc["output_fields"].get("ct.region")
        if region:  # where the output names it
            assert finding["cloud"]["provider"] == "AWS"
            assert finding["cloud"]["region"] == region


def test_json_is_still_format_json() -> None:
    path = str(SAMPLES / "k8s")
    by_flag = scan("--json", path)
    by_format = scan("--format", "json", path)
    both = scan("--json", "--format", "json", path)
    assert by_flag.stdout == by_format.stdout == both.stdout
    assert all(json.loads(line)["rule"] for line in by_flag.stdout.splitlines())
    text = scan(path).stdout.splitlines()
    assert text == scan("--format", "text", path).stdout.splitlines()
    assert text == [json.loads(line)["output"] for line in by_flag.stdout.splitlines()]


@pytest.mark.parametrize("other", ["text", "ocsf"])
def test_json_and_another_format_is_a_usage_error(other: str) -> None:
    result = CliRunner().invoke(main, ["scan", "--json", "--format", other, str(SAMPLES / "k8s")])
    assert result.exit_code == 2
    assert "--json and --format" in result.output
    assert result.stdout == ""
