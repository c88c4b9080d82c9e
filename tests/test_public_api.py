"""The core's public surface, and its purity: what the sensor and every Lambda import."""

from __future__ import annotations

import json
import subprocess
import sys

import lanner

PUBLIC = {
    "Alert",
    "Arg",
    "Diagnostic",
    "Engine",
    "EngineStats",
    "Event",
    "FieldDef",
    "FieldRegistry",
    "FieldType",
    "LannerError",
    "Location",
    "PreFilter",
    "Priority",
    "Rule",
    "RuleLoadErrors",
    "RuleSet",
    "Source",
    "builtin_sources",
    "compile_rules",
    "format_alert",
    "json_kind",
    "load_rules",
    "load_rules_text",
}


def test_public_names_are_exactly_the_documented_ones() -> None:
    assert set(lanner.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(lanner, name) is not None, name


def test_the_core_imports_no_aws_and_no_network_code() -> None:
    """Importing the core, compiling and evaluating must not pull in AWS SDKs or network
    clients: the core is pure, adapters live at the edges. tests/test_layers.py checks the
    core's own imports, deferred ones included; this sees what its dependencies load too."""
    code = """
import json, sys
import lanner
rs = lanner.load_rules_text('''
- rule: r
  desc: d
  condition: ct.name = StopLogging
  output: "%ct.user stopped %ct.request.name"
  priority: WARNING
  source: aws_cloudtrail
''')
eng = lanner.compile_rules(rs, hostname="h")
alerts = eng.evaluate({"eventName": "StopLogging", "eventSource": "cloudtrail.amazonaws.com",
                       "eventTime": "2026-11-28T10:00:00Z",
                       "userIdentity": {"type": "IAMUser", "userName": "eve"},
                       "requestParameters": {"name": "main"}}, "aws_cloudtrail")
print(json.dumps({"alerts": [a.message for a in alerts], "modules": sorted(sys.modules)}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["alerts"] == ["eve stopped main"]
    banned = ("boto3", "botocore", "socket", "ssl", "http", "urllib.request", "requests", "click")
    loaded = [m for m in result["modules"] if m in banned or m.startswith(("boto3.", "botocore."))]
    assert loaded == []
