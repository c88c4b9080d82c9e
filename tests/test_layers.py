"""The layers, checked on the source: which package may import which.

    cli/  ->  sensor/  functions/  dashboard/  deliver/  ->  lanner/ (the core)
                       functions/  ->  dashboard/  ->  deliver/

The core imports nothing of the packages around it nor of the AWS, eBPF and command-line
libraries; the sensor and the Lambdas never import each other; delivery imports neither,
nor the dashboard (the alert store and its view, which come after delivery); the dashboard
imports neither the sensor nor the Lambdas; nobody imports the command line; and everything
outside the core reaches it through its public API only: the names in ``lanner.__all__`` and
the modules its docstring lists.

The check reads every import statement of every module at any depth (inside functions,
``try`` and ``if TYPE_CHECKING:`` blocks too) and ``importlib.import_module("...")`` calls
with a literal name, so an import deferred into a function, which a check of
``sys.modules`` at run time does not see, is seen here.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = "lanner"
PACKAGES = (CORE, "sensor", "functions", "deliver", "dashboard", "cli")
# The edges' libraries: AWS, eBPF, the command line, the local AWS, the Lambda runtime's
# toolkit; and network code (the core reads what it is handed, it fetches nothing).
EDGE_LIBRARIES = ("boto3", "botocore", "bcc", "click", "moto", "aws_lambda_powertools")
NETWORK = ("socket", "ssl", "http", "urllib.request", "requests")
FORBIDDEN: dict[str, tuple[str, ...]] = {
    CORE: ("sensor", "functions", "deliver", "dashboard", "cli", *EDGE_LIBRARIES, *NETWORK),
    "sensor": ("functions", "dashboard", "cli"),
    "functions": ("sensor", "cli"),
    "deliver": ("sensor", "functions", "dashboard", "cli"),
    "dashboard": ("sensor", "functions", "cli"),
    "cli": (),
}


@dataclass(frozen=True)
class PublicApi:
    names: frozenset[str]  # lanner.__all__
    modules: frozenset[str]  # "lanner.wire", ...

    def allows(self, module: str, name: str | None) -> bool:
        """Whether ``from module import name`` (``import module`` when ``name`` is None)
        stays on the core's public surface."""
        if module == CORE:
            return name is None or name in self.names or f"{CORE}.{name}" in self.modules
        return module in self.modules


@dataclass(frozen=True)
class Violation:
    file: str  # relative to the checked root
    line: int
    statement: str  # the import, as written
    why: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.statement}: {self.why}"


def public_api(root: Path) -> PublicApi:
    """The core's public surface as ``lanner/__init__.py`` declares it: ``__all__``, and the
    literal block of module names that follows "The public API is" in its docstring."""
    tree = ast.parse((root / CORE / "__init__.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            names = set(ast.literal_eval(node.value))
    doc = ast.get_docstring(tree) or ""
    declared = doc.partition("The public API is")[2].partition("::")[2]
    block = re.match(r"\n*((?:[ \t]+\S.*\n?|[ \t]*\n)*)", declared)
    modules = re.findall(rf"^\s+({CORE}\.[a-z_.]+)\s", block.group(1) if block else "", re.M)
    return PublicApi(frozenset(names), frozenset(modules))


def _package_of(rel: Path) -> list[str]:
    """The package a module's relative imports start from: its own, for an ``__init__``."""
    return list(rel.parent.parts)


def _imports(rel: Path, source: str) -> Iterator[tuple[ast.stmt | ast.expr, str, str | None]]:
    """(node, module, name) for each thing ``source`` imports, at any depth: ``name`` is the
    name taken from ``module`` by ``from module import name``, else None."""
    for node in ast.walk(ast.parse(source, filename=str(rel))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                package = _package_of(rel)
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([module] if module else [])])
            for alias in node.names:
                yield node, module, None if alias.name == "*" else alias.name
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (
                    isinstance(node.func, ast.Name)
                    and node.func.id in ("import_module", "__import__")
                )
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node, node.args[0].value, None


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def check_layers(root: Path) -> list[Violation]:
    """Every import in ``root``'s packages that crosses a layer the wrong way."""
    api = public_api(root)
    found: list[Violation] = []
    for layer in PACKAGES:
        for path in sorted((root / layer).rglob("*.py")):
            rel = path.relative_to(root)
            source = path.read_text(encoding="utf-8")
            for node, module, name in _imports(rel, source):
                statement = " ".join((ast.get_source_segment(source, node) or module).split())
                imported = [module, *([f"{module}.{name}"] if name else [])]
                why = next(
                    (
                        f"{layer} must not import {banned}"
                        for banned in FORBIDDEN[layer]
                        if any(_under(m, banned) for m in imported)
                    ),
                    None,
                )
                outside_api = (
                    layer != CORE and _under(module, CORE) and not api.allows(module, name)
                )
                if why is None and outside_api:
                    what = f"{module}.{name}" if module == CORE else module
                    why = (
                        f"{what} is not the core's public API (lanner.__all__ and "
                        f"{', '.join(sorted(api.modules))})"
                    )
                if why is not None:
                    found.append(Violation(rel.as_posix(), node.lineno, statement, why))
    # One report per statement and reason, in file order (ast.walk goes breadth first).
    return sorted(set(found), key=lambda v: (v.file, v.line, v.why))


def test_the_layers_hold() -> None:
    violations = check_layers(ROOT)
    assert not violations, "imports across the layers:\n" + "\n".join(map(str, violations))


def test_every_package_is_checked_and_the_public_modules_exist() -> None:
    for layer in PACKAGES:
        assert list((ROOT / layer).glob("*.py")), layer
    api = public_api(ROOT)
    assert api.modules, "lanner/__init__.py's docstring lists no public module"
    for module in api.modules:
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module
    assert "compile_rules" in api.names


_FIXTURE = {
    "lanner/__init__.py": '''
        """A core.

        The public API is the names in ``__all__`` and these modules::

            lanner.wire    records

        Nothing else.
        """
        from lanner.engine import Engine
        __all__ = ["Engine"]
        ''',
    "lanner/wire.py": "",
    "lanner/engine.py": """
        import json


        def deliver(alert):
            import boto3
            return boto3.client("sns")
        """,
    "lanner/sub/reach.py": """
        import importlib
        from typing import TYPE_CHECKING

        from .. import wire
        from ..engine import Engine

        if TYPE_CHECKING:
            from cli.main import main

        moto = importlib.import_module("moto")
        """,
    "sensor/__init__.py": "",
    "sensor/run.py": """
        from lanner import Engine, wire
        from lanner.wire import Decoder
        from functions import x
        """,
    "functions/__init__.py": "",
    "functions/runtime.py": """
        import lanner
        from lanner import Engine
        from lanner.engine import Engine
        from lanner import engine, wire
        """,
    "deliver/__init__.py": "",
    "deliver/alert.py": """
        from typing import TYPE_CHECKING

        try:
            from sensor.ship import KinesisShipper
        except ImportError:
            pass
        if TYPE_CHECKING:
            from cli.notify import notify
        from dashboard.store import AlertStore
        """,
    "dashboard/__init__.py": "",
    "dashboard/api.py": """
        from deliver.alert import DeliveryAlert
        from lanner import Engine


        def handler():
            from functions.runtime import logger
            from sensor.listen import parse_listen
        """,
    "cli/__init__.py": "",
    "cli/main.py": """
        import boto3
        import click
        from functions import runtime
        from sensor import run
        from lanner import Engine
        """,
}


def test_the_check_reports_each_forbidden_import_with_file_and_line(tmp_path: Path) -> None:
    """A tree with deliberate violations: each is reported where it is, and nothing else."""
    for name, text in _FIXTURE.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")

    reported = [str(v) for v in check_layers(tmp_path)]

    public = "(lanner.__all__ and lanner.wire)"
    assert sorted(reported) == sorted(
        [
            "lanner/engine.py:5: import boto3: lanner must not import boto3",
            "lanner/sub/reach.py:8: from cli.main import main: lanner must not import cli",
            'lanner/sub/reach.py:10: importlib.import_module("moto"): lanner must not import moto',
            "sensor/run.py:3: from functions import x: sensor must not import functions",
            "functions/runtime.py:3: from lanner.engine import Engine: "
            f"lanner.engine is not the core's public API {public}",
            "functions/runtime.py:4: from lanner import engine, wire: "
            f"lanner.engine is not the core's public API {public}",
            "deliver/alert.py:4: from sensor.ship import KinesisShipper: "
            "deliver must not import sensor",
            "deliver/alert.py:8: from cli.notify import notify: deliver must not import cli",
            "deliver/alert.py:9: from dashboard.store import AlertStore: "
            "deliver must not import dashboard",
            "dashboard/api.py:6: from functions.runtime import logger: "
            "dashboard must not import functions",
            "dashboard/api.py:7: from sensor.listen import parse_listen: "
            "dashboard must not import sensor",
        ]
    )
