"""YAML documents with positions: every item and scalar knows its line and column.

Rule files are composed (not just loaded) so that errors can point into
the file, including inside multi-line condition scalars.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from lanner.errors import Location, RuleFileError

try:  # libyaml is ~10x faster; fall back to the pure-Python loader.
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


@dataclass(slots=True)
class Scalar:
    """A scalar value, the raw source it came from, and where it starts."""

    value: Any
    node: yaml.Node
    file: str | None
    source: str

    @property
    def location(self) -> Location:
        m = self.node.start_mark
        return Location(self.file, m.line + 1, m.column + 1)

    def locate(self, offset: int) -> Location:
        """Maps an offset in the scalar's string value to a file position.

        Folding (``>``), plain multi-line scalars and block indentation only
        change whitespace, so the n-th non-blank character of the value is the
        n-th non-blank character of the scalar's content in the file.
        """
        text = self.value if isinstance(self.value, str) else str(self.value)
        nth = sum(1 for ch in text[: max(0, offset)] if not ch.isspace())
        start = self.node.start_mark.index
        end = self.node.end_mark.index
        raw = self.source[start:end]
        skip = 0
        style = getattr(self.node, "style", None)
        if style in ("|", ">"):
            nl = raw.find("\n")  # the block header line (indicator, chomping)
            skip = len(raw) if nl < 0 else nl + 1
        elif style in ('"', "'"):
            skip = 1
        count = 0
        pos = None
        for i in range(skip, len(raw)):
            if not raw[i].isspace():
                if count == nth:
                    pos = start + i
                    break
                count += 1
        if pos is None:
            return self.location
        line = self.source.count("\n", 0, pos)
        col = pos - (self.source.rfind("\n", 0, pos) + 1)
        return Location(self.file, line + 1, col + 1)


@dataclass(slots=True)
class Item:
    """One top-level ``- key: ...`` entry: its fields as Scalars or plain values."""

    node: yaml.MappingNode
    fields: dict[str, Scalar]
    file: str | None

    @property
    def location(self) -> Location:
        m = self.node.start_mark
        return Location(self.file, m.line + 1, m.column + 1)


def _construct(loader: Any, node: yaml.Node) -> Any:
    return loader.construct_object(node, deep=True)


def parse_items(text: str, file: str | None) -> list[Item]:
    """The top-level items of a rules file, each field with its position.

    Raises RuleFileError for YAML syntax errors and for a document that is not
    a sequence of mappings.
    """
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return []
            if not isinstance(root, yaml.SequenceNode):
                m = root.start_mark
                raise RuleFileError(
                    "a rules file must be a YAML list of items (- rule:, - macro:, - list:)",
                    Location(file, m.line + 1, m.column + 1),
                )
            items: list[Item] = []
            for child in root.value:
                if not isinstance(child, yaml.MappingNode):
                    m = child.start_mark
                    raise RuleFileError(
                        "each item must be a mapping such as '- rule: NAME'",
                        Location(file, m.line + 1, m.column + 1),
                    )
                fields: dict[str, Scalar] = {}
                for knode, vnode in child.value:
                    key = _construct(loader, knode)
                    if not isinstance(key, str):
                        m = knode.start_mark
                        raise RuleFileError(
                            f"item keys must be strings, not {key!r}",
                            Location(file, m.line + 1, m.column + 1),
                        )
                    fields[key] = Scalar(_construct(loader, vnode), vnode, file, text)
                items.append(Item(child, fields, file))
            return items
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        problem = exc.problem or exc.context or "invalid YAML"
        raise RuleFileError(f"invalid YAML: {problem}", loc) from None
    except yaml.YAMLError as exc:
        raise RuleFileError(f"invalid YAML: {exc}", Location(file)) from None
