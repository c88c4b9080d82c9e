"""`lanner rules test`: rule tests as a user writes them and the report the command prints.

A small rules file and test folder in tmp_path: passing rules, every reason an example
fails (with the line a user reads), untested and incomplete rules, every kind of mistake
in a test file (each named FILE:LINE:COL), the exit codes; then the bundled rules with
their own tests (rules/tests/).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import main

ROOT = Path(__file__).resolve().parent.parent

RULES = """\
- rule: Trail Stopped
  desc: x
  condition: ct.name = StopLogging and not ct.error exists
  output: trail stopped by %ct.user (trail=%ct.request.name)
  priority: WARNING
  source: aws_cloudtrail
- rule: Root Console Login
  desc: x
  condition: ct.name = ConsoleLogin and json.value[/additionalEventData/MFAUsed] = "No"
  output: root login without MFA from %ct.srcip
  priority: CRITICAL
  source: aws_cloudtrail
- rule: Secret Read Burst
  desc: x
  condition: ct.name = GetSecretValue
  output: secrets read by %ct.user
  priority: NOTICE
  source: aws_cloudtrail
  threshold: {count: 3, window: 5m, group_by: [ct.user]}
- rule: Bucket Deleted
  desc: x
  condition: ct.name = DeleteBucket
  output: bucket deleted by %ct.user
  priority: NOTICE
  source: aws_cloudtrail
- rule: Nobody Tests Me
  desc: x
  condition: ct.name = CreateUser
  output: user created by %ct.user
  priority: NOTICE
  source: aws_cloudtrail
"""

PASSING = """\
- rule: Trail Stopped
  fires:
    - about: An IAM user stops the trail
      event: &stop
        eventSource: cloudtrail.amazonaws.com
        eventName: StopLogging
        eventTime: "2024-05-01T12:00:00Z"
        userIdentity: {type: IAMUser, userName: eve}
        requestParameters: {name: main}
      output_fields: {ct.user: eve, ct.request.name: main}
    - file: events/stop.json
  quiet:
    - about: The same call, refused
      event: {<<: *stop, errorCode: AccessDenied}
- rule: Root Console Login
  fires:
    - about: "MFAUsed: No reads as the text No, as in the record"
      event:
        eventName: ConsoleLogin
        userIdentity: {type: Root}
        sourceIPAddress: 198.51.100.7
        additionalEventData: {MFAUsed: No}
      output_fields: {ct.srcip: 198.51.100.7}
  quiet:
    - events:
        - {eventName: ConsoleLogin, additionalEventData: {MFAUsed: "Yes"}}
        - {eventName: GetCallerIdentity}
- rule: Secret Read Burst
  fires:
    - event: &read
        eventName: GetSecretValue
        eventTime: "2024-05-01T12:00:00Z"
        userIdentity: {type: IAMUser, userName: eve}
      repeat: 3
    - about: fires again, since each example starts from a clean state
      event: *read
      repeat: 3
  quiet:
    - about: two reads; the next example starts from zero again
      event: *read
      repeat: 2
    - event: *read
      repeat: 2
    - file: events/two_reads.jsonl
"""

STOP_JSON = {"eventName": "StopLogging", "userIdentity": {"type": "IAMUser", "userName": "bob"}}
READ_JSON = {
    "eventName": "GetSecretValue",
    "eventTime": "2024-05-01T12:00:00Z",
    "userIdentity": {"type": "IAMUser", "userName": "eve"},
}


def write(tmp_path: Path, tests: str, name: str = "trail.yaml") -> Path:
    (tmp_path / "rules.yaml").write_text(RULES)
    folder = tmp_path / "tests"
    (folder / "events").mkdir(parents=True, exist_ok=True)
    (folder / "events" / "stop.json").write_text(json.dumps(STOP_JSON, indent=2))
    (folder / "events" / "two_reads.jsonl").write_text(
        f"{json.dumps(READ_JSON)}\n\n{json.dumps(READ_JSON)}\n"
    )
    (folder / name).write_text(textwrap.dedent(tests))
    return folder


def run(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["rules", "test", "-r", str(tmp_path / "rules.yaml"), *args, str(tmp_path / "tests")]
    )


def test_passing_untested_and_incomplete_rules(tmp_path: Path) -> None:
    write(
        tmp_path,
        PASSING + "- rule: Bucket Deleted\n  fires:\n    - event: {eventName: DeleteBucket}\n",
    )
    result = run(tmp_path)
    assert result.stdout.splitlines() == [
        "PASS  Trail Stopped  (2 fires, 1 quiet)",
        "PASS  Root Console Login  (1 fires, 1 quiet)",
        "PASS  Secret Read Burst  (2 fires, 3 quiet)",
        "INCOMPLETE  Bucket Deleted: no quiet example",
        "UNTESTED  Nobody Tests Me",
        "5 rules: 3 passed, 0 failed, 1 untested, 1 incomplete; 11 examples in 1 file(s)",
    ]
    assert result.exit_code == 0, result.output


def test_require_tests_fails_untested_and_incomplete_rules(tmp_path: Path) -> None:
    write(tmp_path, PASSING)
    result = run(tmp_path, "--require-tests")
    assert "UNTESTED  Bucket Deleted" in result.stdout
    assert result.exit_code == 1

    complete = PASSING + textwrap.dedent("""\
        - rule: Bucket Deleted
          fires: [{event: {eventName: DeleteBucket}}]
          quiet: [{event: {eventName: CreateBucket}}]
        - rule: Nobody Tests Me
          fires: [{event: {eventName: CreateUser}}]
          quiet: [{event: {eventName: GetUser}}]
        """)
    write(tmp_path, complete)
    result = run(tmp_path, "--require-tests")
    assert result.stdout.splitlines()[-1].startswith("5 rules: 5 passed, 0 failed")
    assert result.exit_code == 0, result.output


def test_each_reason_an_example_fails(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        """\
        - rule: Trail Stopped
          fires:
            - about: expects the wrong user
              event: {eventName: StopLogging, userIdentity: {type: IAMUser, userName: eve}}
              output_fields: {ct.user: mallory, proc.name: bash}
            - event: {eventName: StartLogging}
          quiet:
            - about: not refused after all
              event:
                eventName: StopLogging
                eventTime: "2024-05-01T12:00:00Z"
                userIdentity: {type: IAMUser, userName: eve}
        - rule: Secret Read Burst
          fires:
            - about: two reads are not three
              event: {eventName: GetSecretValue, userIdentity: {userName: eve}}
              repeat: 2
        """,
    )
    result = run(tmp_path)
    f = folder / "trail.yaml"
    lines = result.stdout.splitlines()
    assert [line for line in lines if not line.startswith(("UNTESTED", "INCOMPLETE"))][:6] == [
        "FAIL  Trail Stopped: 3 of 3 example(s) failed",
        f'      {f}:3:7: fires "expects the wrong user": fired, but output field ct.user '
        "was 'eve', not 'mallory'; the alert has no output field proc.name "
        "(it has: ct.user, ct.request.name)",
        f"      {f}:6:7: fires: did not fire",
        f'      {f}:8:7: quiet "not refused after all": fired on a quiet example: '
        "12:00:00.000000000: Warning trail stopped by eve (trail=<NA>)",
        "FAIL  Secret Read Burst: 1 of 1 example(s) failed; no quiet example",
        f'      {f}:15:7: fires "two reads are not three": did not fire',
    ]
    assert "2 failed" in result.stdout.splitlines()[-1]
    assert result.exit_code == 1


def test_event_values_and_names_are_made_inert(tmp_path: Path) -> None:
    write(
        tmp_path,
        """\
        - rule: Trail Stopped
          quiet:
            - about: "\\e[31mred"
              event:
                eventName: StopLogging
                eventTime: "2024-05-01T12:00:00Z"
                userIdentity: {type: IAMUser, userName: "e\\e]0;x\\ave"}
        """,
    )
    result = run(tmp_path)
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert 'quiet "\\u001b[31mred": fired on a quiet example' in result.stdout
    assert "trail stopped by e\\u001b]0;x\\u0007ve" in result.stdout


def test_json_output(tmp_path: Path) -> None:
    folder = write(tmp_path, PASSING + "- rule: Bucket Deleted\n  fires: [{event: {}}]\n")
    result = run(tmp_path, "--json")
    records = {r["rule"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["Trail Stopped"] == {
        "rule": "Trail Stopped",
        "source": "aws_cloudtrail",
        "status": "PASS",
        "fires": 2,
        "quiet": 1,
        "missing": [],
        "failures": [],
    }
    assert records["Bucket Deleted"]["failures"] == [
        {
            "location": f"{folder / 'trail.yaml'}:{PASSING.count(chr(10)) + 2}:11",
            "kind": "fires",
            "about": None,
            "reason": "did not fire",
        }
    ]
    assert records["Nobody Tests Me"]["status"] == "UNTESTED"
    assert "1 failed" in result.stderr
    assert result.exit_code == 1


BAD_FILES = [
    (
        "- rule: Trail Stoped\n  fires: [{event: {}}]\n",
        "1:9: error: rule 'Trail Stoped' is not a loaded rule; did you mean 'Trail Stopped'?",
    ),
    (
        "- rule: Trail Stopped\n  fire: [{event: {}}]\n",
        "2:3: error: unknown key 'fire' in a rule test (known: rule, fires, quiet); "
        "did you mean 'fires'?",
    ),
    (
        "- rule: Trail Stopped\n  fires:\n    - about: nothing to run\n",
        "3:7: error: an example needs one of event:, file: or events: (neither given)",
    ),
    (
        "- rule: Trail Stopped\n  fires:\n    - event: {}\n      file: events/stop.json\n",
        "3:7: error: an example needs one of event:, file: or events: (more than one of given)",
    ),
    (
        "- rule: Trail Stopped\n  fires:\n    - file: events/gone.json\n",
        "3:13: error: event file 'events/gone.json' does not exist",
    ),
    (
        "- rule: Trail Stopped\n  fires:\n    - file: rules.txt\n",
        "3:13: error: event file 'rules.txt' must be .json or .jsonl",
    ),
    (
        "- rule: Trail Stopped\n  fires:\n    - event: [StopLogging]\n",
        "3:14: error: 'event' must be an event document (a mapping)",
    ),
    (
        "- rule: Trail Stopped\n  fires:\n    - event: {}\n      repeat: many\n",
        "4:15: error: 'repeat' must be a whole number from 1 to 100000",
    ),
    (
        "- rule: Trail Stopped\n  fires:\n    - event: {}\n      output_fields: [ct.user]\n",
        "4:22: error: 'output_fields' must map field names to values",
    ),
    (
        "- rule: Trail Stopped\n  quiet:\n    - event: {}\n      output_fields: {ct.user: x}\n",
        "4:22: error: a quiet example has no alert: output_fields cannot apply",
    ),
    ("- rule: Trail Stopped\n  fires: yes\n", "2:10: error: 'fires' must be a list of examples"),
    ("- rule: Trail Stopped\n", "1:3: error: rule 'Trail Stopped': no 'fires' or 'quiet' examples"),
    ("- rule: Trail Stopped\n  fires: [{event: {a: 1}\n", "3:1: error: invalid YAML"),
]


@pytest.mark.parametrize(("text", "error"), BAD_FILES, ids=[e for _, e in BAD_FILES])
def test_test_file_errors_name_file_line_and_column(tmp_path: Path, text: str, error: str) -> None:
    folder = write(tmp_path, text)
    result = run(tmp_path)
    assert result.stderr.startswith(f"{folder / 'trail.yaml'}:{error}"), result.stderr
    assert result.stdout == ""
    assert result.exit_code == 2


def test_event_file_errors_point_into_the_event_file(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        "- rule: Trail Stopped\n  fires:\n    - file: events/bad.json\n"
        "    - file: events/list.jsonl\n",
    )
    (folder / "events" / "bad.json").write_text('{"eventName": "StopLogging",\n "x": }\n')
    (folder / "events" / "list.jsonl").write_text('{"eventName": "StopLogging"}\n[1, 2]\n')
    result = run(tmp_path)
    named = folder / "trail.yaml"
    assert result.stderr.splitlines() == [
        f"{folder / 'events' / 'bad.json'}:2:7: error: not JSON: Expecting value "
        f"(named at {named}:3:13)",
        f"{folder / 'events' / 'list.jsonl'}:2:1: error: an event must be a JSON object "
        f"(named at {named}:4:13)",
        "2 error(s)",
    ]
    assert result.exit_code == 2


def test_every_mistake_of_a_file_is_reported_in_one_run(tmp_path: Path) -> None:
    write(
        tmp_path,
        """\
        - rule: Trail Stopped
          fires:
            - evnt: {eventName: StopLogging}
            - event: {eventName: StopLogging}
              repeat: 0
        - rule: No Such Rule
          quiet: [{event: {}}]
        """,
    )
    result = run(tmp_path)
    located = [line.split(": error: ")[0].rsplit(":", 2)[1:] for line in result.stderr.splitlines()]
    assert located[:-1] == [["3", "7"], ["3", "7"], ["5", "15"], ["6", "9"]]
    assert result.stderr.splitlines()[-1] == "4 error(s)"
    assert result.exit_code == 2


def test_rule_file_errors_and_a_missing_test_folder_exit_2(tmp_path: Path) -> None:
    write(tmp_path, PASSING)
    (tmp_path / "rules.yaml").write_text("- rule: Broken\n  condition: ct.name =\n")
    result = run(tmp_path)
    assert result.stderr.startswith(f"{tmp_path / 'rules.yaml'}:"), result.stderr
    assert result.exit_code == 2

    write(tmp_path, PASSING)
    result = CliRunner().invoke(
        main, ["rules", "test", "-r", str(tmp_path / "rules.yaml"), str(tmp_path / "nowhere")]
    )
    assert result.stderr == f"{tmp_path / 'nowhere'}: error: no such test file or directory\n"
    assert result.exit_code == 2


def test_bundled_rules_pass_their_tests_and_every_rule_is_tested() -> None:
    """Every bundled rule has a fires and a quiet example under rules/tests/, and passes."""
    result = CliRunner().invoke(main, ["rules", "test", "--require-tests"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert " 0 failed, 0 untested, 0 incomplete" in result.stdout
