"""``lanner sensor --config FILE``: what a file may set, every problem with FILE:LINE:COL,
and which value wins between the command line, the file and the defaults."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import sensor.config
from sensor.config import PARAMETERS, ConfigError, load_config


def write(tmp_path: Path, text: str, name: str = "sensor.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.lines


def docstring_example() -> str:
    """The example in sensor/config.py's docstring (the one the README copies)."""
    doc = sensor.config.__doc__ or ""
    block = doc.split("# lanner sensor --config", 1)[1].split("\n\n", 1)[0]
    return textwrap.dedent("# lanner sensor --config" + block)


def test_the_documented_example_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, docstring_example()))
    assert config.model_fields_set == {
        "rule_paths",
        "min_priority",
        "as_json",
        "metrics_listen",
        "kinesis_stream",
        "spool_dir",
        "spool_max_mb",
        "k8s_api_url",
        "disabled_tags",
    }
    assert config.rule_paths == ("/etc/lanner/rules/",)
    assert config.min_priority == "notice"
    assert config.as_json is True
    assert config.metrics_listen == "0.0.0.0:9376"
    assert config.spool_max_mb == 256
    assert config.disabled_tags == ("mitre_discovery",)


def test_values_are_read_as_the_options_read_them(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        rules: local/                 # one path: a list of one
        record: rec/node.jsonl
        host-root: /host
        json: yes
        no-prefilter: off
        min-priority: WARNING
        duration: 2.5
        kinesis-stream:               # nothing: none, as when the flag is not given
        node-name: "007"
        only-tags: [network, "shell"]
        """,
    )
    config = load_config(path)
    assert config.rule_paths == (f"{tmp_path}/local/",)  # relative to the file's folder
    assert config.record == str(tmp_path / "rec/node.jsonl")
    assert config.host_root == "/host"
    assert config.as_json is True and config.no_prefilter is False
    assert config.min_priority == "warning"  # as click's choice gives it
    assert config.duration == 2.5
    assert config.kinesis_stream is None and "kinesis_stream" in config.model_fields_set
    assert config.node_name == "007"  # YAML's numbers stay the text they are
    assert config.only_tags == ("network", "shell")


def test_an_empty_file_sets_nothing(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "# nothing yet\n")).model_fields_set == set()
    assert load_config(write(tmp_path, "---\n", "dashes.yaml")).model_fields_set == set()


def test_every_problem_is_reported_at_its_key_or_value(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        rules:
          - rules/
          - ~
        spool_max_mb: 12
        spool-max-mb: lots
        json: maybe
        min-priority: loud
        kubelet-insecure: true
        metrics-listen: 9376
        duration: -1
        heartbeat:
        colour: blue
        """,
    )
    f = str(path)
    assert problems(path) == [
        f"{f}:3:5: error: rules: Input should be a valid string (got null)",
        f"{f}:4:1: error: unknown option 'spool_max_mb'; did you mean 'spool-max-mb'?",
        f"{f}:5:15: error: spool-max-mb: Input should be a valid integer, unable to parse "
        "string as an integer (got 'lots')",
        f"{f}:6:7: error: json: Input should be a valid boolean, unable to interpret input "
        "(got 'maybe')",
        f"{f}:7:15: error: min-priority: unknown priority 'loud' (expected one of: emergency, "
        "alert, critical, error, warning, notice, informational, debug)",
        f"{f}:8:1: error: 'kubelet-insecure' was removed: it sent the service-account token "
        "to an unverified endpoint; give kubelet-ca (the cluster's CA) or use k8s-api-url",
        f"{f}:9:17: error: metrics-listen: expected HOST:PORT, e.g. 0.0.0.0:9376, 127.0.0.1:9376 or [::]:9376",
        f"{f}:10:11: error: duration: must be a number of seconds greater than 0",
        f"{f}:11:11: error: heartbeat: Input should be a valid string (got null)",
        f"{f}:12:1: error: unknown option 'colour'",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "- rules/\n",
            "1:1: error: the configuration must be a mapping of option: value, not a list",
        ),
        (
            "just words\n",
            "1:1: error: the configuration must be a mapping of option: value, not a single value",
        ),
        (
            "rules: {a: b}\n",
            "1:8: error: rules: a value must be a string, a number, a boolean or a list of them, not a mapping",
        ),
        (
            "only-tags: [a, [b]]\n",
            "1:16: error: only-tags: a list item must be a string, a number or a boolean, not a list",
        ),
        (
            "only-tags: [a, {b: c}]\n",
            "1:16: error: only-tags: a list item must be a string, a number or a boolean, not a mapping",
        ),
        ("? [a]\n: b\n", "1:3: error: an option's name must be a name, not a list"),
        (
            "json: &yes true\nno-prefilter: *yes\n",
            "1:7: error: anchors and aliases (&name, *name) are not supported here",
        ),
        (
            "json: true\n---\njson: false\n",
            "2:1: error: one YAML document only (a second one starts here)",
        ),
        (
            "rules: [a\nheartbeat: x\n",
            "2:10: error: invalid YAML: did not find expected ',' or ']'",
        ),
        ("json: true\njson: false\n", "2:1: error: 'json' given twice (first at line 1)"),
        (
            "check: true\n",
            "1:1: error: 'check' is a command (lanner sensor --check), not a setting",
        ),
    ],
)
def test_a_file_of_another_shape_is_refused_where_it_goes_wrong(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "sensor.yaml"
    path.write_text(text, encoding="utf-8")
    assert problems(path) == [f"{path}:{expected}"]


def test_nesting_is_refused_at_its_first_level_never_built(tmp_path: Path) -> None:
    path = tmp_path / "sensor.yaml"
    path.write_text("only-tags: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    assert problems(path) == [
        f"{path}:1:13: error: only-tags: a list item must be a string, a number or a boolean, not a list"
    ]


def test_size_encoding_and_missing_files(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * sensor.config.MAX_CONFIG_BYTES + "\n", encoding="utf-8")
    assert problems(big) == [f"{big}: error: larger than 64 KB: not a settings file"]
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("node-name: caf\xe9\n".encode("latin-1"))
    assert problems(latin) == [f"{latin}: error: not UTF-8 (byte 14)"]
    missing = tmp_path / "nope.yaml"
    assert problems(missing) == [f"{missing}: error: cannot read it: No such file or directory"]


def test_problems_are_inert_on_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "sensor.yaml"
    path.write_text('"col\\u001b[31mour": 1\n', encoding="utf-8")
    assert problems(path) == [f"{path}:1:1: error: unknown option 'col\\u001b[31mour'"]


# --- precedence: click merges, the file's settings being the command's default_map ------------


def _command(seen: dict[str, Any]) -> click.Command:
    """A command shaped like ``lanner sensor``, wired as the module docstring says."""

    def config_callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is None:
            return
        try:
            config = load_config(value)
        except ConfigError as exc:
            raise click.UsageError("\n".join(exc.lines)) from None
        ctx.default_map = {**(ctx.default_map or {}), **config.default_map()}

    @click.command()
    @click.option("-r", "--rules", "rule_paths", multiple=True)
    @click.option("--json", "as_json", is_flag=True)
    @click.option("--spool-max-mb", type=click.IntRange(min=1), default=256)
    @click.option("--kinesis-stream")
    @click.option("--host-root", default=lambda: os.environ.get("HOST_ROOT", "/"))
    @click.option("-t", "only_tags", multiple=True)
    @click.option("-T", "disabled_tags", multiple=True)
    @click.option(
        "--config", "config_file", is_eager=True, expose_value=False, callback=config_callback
    )
    def command(**params: Any) -> None:
        ctx = click.get_current_context()
        seen.update(params)
        seen["from"] = {n: ctx.get_parameter_source(n).name for n in params}

    return command


def run(args: list[str]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    result = CliRunner().invoke(_command(seen), args)
    assert result.exit_code == 0, result.output
    return seen


FILE = """
rules: [/etc/lanner/rules/]
json: true
spool-max-mb: 64
kinesis-stream: from-file
host-root: /host
disabled-tags: [noisy]
"""


def test_the_file_fills_in_what_the_command_line_does_not_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, FILE)
    monkeypatch.setenv("HOST_ROOT", "/from-env")  # read as a default: the file wins over it
    seen = run(["--config", str(path)])
    assert seen["rule_paths"] == ("/etc/lanner/rules/",)
    assert seen["as_json"] is True
    assert seen["spool_max_mb"] == 64
    assert seen["kinesis_stream"] == "from-file"
    assert seen["host_root"] == "/host"
    assert seen["disabled_tags"] == ("noisy",)
    assert seen["only_tags"] == ()
    assert seen["from"]["spool_max_mb"] == "DEFAULT_MAP"


def test_the_command_line_wins_over_the_file_and_its_lists_replace_the_files(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, FILE)
    seen = run(["--config", str(path), "--spool-max-mb", "256", "-r", "mine.yaml", "-T", "loud"])
    assert seen["spool_max_mb"] == 256  # even when it equals the default
    assert seen["rule_paths"] == ("mine.yaml",)
    assert seen["disabled_tags"] == ("loud",)
    assert seen["kinesis_stream"] == "from-file"
    assert seen["from"]["spool_max_mb"] == "COMMANDLINE"
    # --config anywhere on the line: it is read first (eager).
    assert run(["--spool-max-mb", "3", "--config", str(path)])["spool_max_mb"] == 3


def test_without_a_file_the_defaults_stay() -> None:
    seen = run([])
    assert (seen["spool_max_mb"], seen["as_json"], seen["rule_paths"]) == (256, False, ())


def test_default_map_is_what_the_file_sets_by_parameter_name(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "json: true\nkinesis-stream:\nonly-tags: net\n"))
    assert config.default_map() == {"as_json": True, "kinesis_stream": None, "only_tags": ("net",)}
    assert load_config(write(tmp_path, "", "empty.yaml")).default_map() == {}


# --- one list of options -----------------------------------------------------------------------

NOT_SETTINGS = {"check", "config_file", "kubelet_insecure"}


def _sensor_params() -> set[str]:
    from cli.main import main

    command = main.commands["sensor"]
    return {p.name for p in command.params if p.name} - NOT_SETTINGS


def test_every_sensor_option_can_be_set_in_the_file() -> None:
    assert _sensor_params() - set(PARAMETERS.values()) == set()


def test_every_key_of_the_file_is_a_sensor_option() -> None:
    """Fails while cli/main.py's ``lanner sensor`` lacks an option the file offers."""
    assert set(PARAMETERS.values()) - _sensor_params() == set()
