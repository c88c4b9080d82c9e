"""YAML documents with positions: every item and value knows its line and column.

Rule files are composed (not just loaded) so that errors can point into the
file, including inside multi-line condition scalars. Values are read the way
Falco's YAML library reads them: every scalar is its text (``yes`` stays
``"yes"``, ``010`` stays ``"010"``, a date stays a string); only the keys that
need a boolean or a number interpret the text. The composer is our own
(iterative, over libyaml's events) so that deep nesting, alias bombs and
recursive anchors end in an error rather than a crash.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import yaml

from lanner.errors import Location, RuleFileError

try:  # libyaml is ~10x faster; fall back to the pure-Python parser.
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
# The spellings yaml-cpp (Falco's YAML library) accepts as booleans.
_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})
_FALSE = frozenset({"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})
MAX_DEPTH = 200
MAX_NODES = 1_000_000  # per file, after alias expansion
# libyaml's line breaks; marks count lines by these, so positions we compute must too.
_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_ESCAPE_LEN = {"x": 2, "u": 4, "U": 8}
_ESCAPES = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "t": "\t",
    "\t": "\t",
    "n": "\n",
    "v": "\v",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    '"': '"',
    "/": "/",
    "\\": "\\",
    "N": "\x85",
    "_": "\xa0",
    "L": "\u2028",
    "P": "\u2029",
}


class SourceText:
    """A file's text with its line starts, to turn offsets into (line, column)."""

    __slots__ = ("_starts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None

    def line_col(self, pos: int) -> tuple[int, int]:
        """1-based line and column of character offset ``pos``."""
        if self._starts is None:
            self._starts = [0] + [m.end() for m in _BREAK.finditer(self.text)]
        line = bisect_right(self._starts, pos) - 1
        return line + 1, pos - self._starts[line] + 1


def node_location(node: yaml.Node, file: str | None) -> Location:
    m = node.start_mark
    return Location(file, m.line + 1, m.column + 1)


@dataclass(slots=True, eq=False)
class Scalar:
    """A field's value (strings, lists, dicts; None for null), its node and position.

    Despite the name it may hold a sequence or a mapping; ``text`` is the
    scalar's source text.
    """

    value: Any
    node: yaml.Node
    file: str | None
    source: SourceText
    # Machine-int arrays, 8 bytes an entry: a list of ints costs ~36 per character of a
    # condition, and a multi-megabyte condition must not cost hundreds of MB to locate.
    _content: array[int] | None = None
    _prefix: array[int] | None = None

    @property
    def is_scalar(self) -> bool:
        return isinstance(self.node, yaml.ScalarNode)

    @property
    def is_null(self) -> bool:
        return isinstance(self.node, yaml.ScalarNode) and self.node.tag == NULL_TAG

    @property
    def text(self) -> str:
        if isinstance(self.node, yaml.ScalarNode):
            return str(self.node.value)
        return str(self.value)

    def as_bool(self) -> bool | None:
        """The value as yaml-cpp reads a boolean, or None when it is not one."""
        if not isinstance(self.node, yaml.ScalarNode):
            return None
        if self.node.value in _TRUE:
            return True
        if self.node.value in _FALSE:
            return False
        return None

    @property
    def location(self) -> Location:
        return node_location(self.node, self.file)

    def locate(self, offset: int) -> Location:
        """Maps an offset in the scalar's string value to a file position.

        Folding (``>``), plain multi-line scalars, block indentation and
        quoting only change whitespace or escapes, so the n-th non-blank
        character of the value is the n-th non-blank character of the
        scalar's decoded content in the file.
        """
        if not isinstance(self.node, yaml.ScalarNode):
            return self.location
        if self._prefix is None:
            blank = str.isspace
            self._prefix = array("q", [0])
            self._prefix.extend(accumulate(0 if blank(ch) else 1 for ch in self.text))
            self._content = _content_positions(self.node, self.source.text)
        assert self._content is not None
        nth = self._prefix[max(0, min(offset, len(self._prefix) - 1))]
        if nth >= len(self._content):
            if not self._content:
                return self.location
            nth = len(self._content) - 1
        line, col = self.source.line_col(self._content[nth])
        return Location(self.file, line, col)


def _content_positions(node: yaml.ScalarNode, text: str) -> array[int]:
    """Source offsets of the non-blank characters of a scalar's value, in order."""
    start = node.start_mark.index
    end = min(node.end_mark.index, len(text))
    out = array("q")
    style = node.style
    if style in ("|", ">"):
        nl = _BREAK.search(text, start, end)  # skip the header line (indicator, chomping)
        i = end if nl is None else nl.end()
        out.extend(j for j in range(i, end) if not text[j].isspace())
    elif style == "'":
        i = start + 1
        while i < end:
            ch = text[i]
            if ch == "'":
                if i + 1 < end and text[i + 1] == "'":
                    out.append(i)
                    i += 2
                    continue
                break
            if not ch.isspace():
                out.append(i)
            i += 1
    elif style == '"':
        i = start + 1
        while i < end:
            ch = text[i]
            if ch == '"':
                break
            if ch == "\\" and i + 1 < end:
                nxt = text[i + 1]
                if nxt in "\r\n\x85\u2028\u2029":  # escaped line break: no character
                    i += 2
                    continue
                if nxt in _ESCAPE_LEN:
                    digits = text[i + 2 : i + 2 + _ESCAPE_LEN[nxt]]
                    try:
                        decoded = chr(int(digits, 16))
                    except ValueError:
                        decoded = "?"
                    step = 2 + _ESCAPE_LEN[nxt]
                else:
                    decoded = _ESCAPES.get(nxt, nxt)
                    step = 2
                if not decoded.isspace():
                    out.append(i)
                i += step
                continue
            if not ch.isspace():
                out.append(i)
            i += 1
    else:
        out.extend(j for j in range(start, end) if not text[j].isspace())
    return out


@dataclass(slots=True)
class Item:
    """One top-level ``- key: ...`` entry: its fields, each with its value and position."""

    node: yaml.MappingNode
    fields: dict[str, Scalar]
    file: str | None
    # Keys given again after their first use: like yaml-cpp, the first one counts.
    duplicates: list[tuple[str, Location]] = field(default_factory=list)

    @property
    def location(self) -> Location:
        return node_location(self.node, self.file)


class _Bad(Exception):
    def __init__(self, message: str, node: Any) -> None:
        super().__init__(message)
        self.message = message
        self.node = node


# --- composing ---------------------------------------------------------------------------


def _scalar_tag(ev: Any) -> str:
    if ev.tag and ev.tag != "!":
        return str(ev.tag)
    if ev.implicit[0] and not ev.style:  # plain: null and merge keys are recognised
        if ev.value in _NULLS:
            return NULL_TAG
        if ev.value == "<<":
            return _MERGE_TAG
    return _STR_TAG


def _compose(text: str) -> list[yaml.Node | None]:
    """The documents of ``text`` as node trees, built iteratively with a depth limit.

    Anchors are registered when their node is complete, so an alias inside
    its own anchor is an error (no cyclic trees).
    """
    loader = _Loader(text)
    docs: list[yaml.Node | None] = []
    try:
        anchors: dict[str, yaml.Node] = {}
        # Open collections: [node, anchor, pending mapping key]
        stack: list[list[Any]] = []
        root: yaml.Node | None = None
        while loader.check_event():
            ev: Any = loader.get_event()
            start: Any = getattr(ev, "start_mark", None)
            end: Any = getattr(ev, "end_mark", None)
            anchor: Any = getattr(ev, "anchor", None)
            node: yaml.Node
            if isinstance(ev, yaml.DocumentStartEvent):
                anchors, root = {}, None
                continue
            if isinstance(ev, yaml.DocumentEndEvent):
                docs.append(root)
                continue
            if isinstance(ev, yaml.AliasEvent):
                found = anchors.get(anchor)
                if found is None:
                    raise _Bad(f"alias '*{anchor}' refers to no complete anchor", ev)
                node = found
            elif isinstance(ev, yaml.ScalarEvent):
                node = yaml.ScalarNode(_scalar_tag(ev), ev.value, start, end, style=ev.style)
                if anchor:
                    anchors[anchor] = node
            elif isinstance(ev, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                if len(stack) >= MAX_DEPTH:
                    raise _Bad(f"nesting deeper than {MAX_DEPTH} levels", ev)
                coll: Any
                if isinstance(ev, yaml.SequenceStartEvent):
                    coll = yaml.SequenceNode(_SEQ_TAG, [], start, end)
                else:
                    coll = yaml.MappingNode(_MAP_TAG, [], start, end)
                coll.flow_style = ev.flow_style
                stack.append([coll, anchor, None])
                continue
            elif isinstance(ev, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                coll, anchor, _ = stack.pop()
                coll.end_mark = end
                if anchor:
                    anchors[anchor] = coll
                node = coll
            else:  # stream start/end
                continue
            if not stack:
                root = node
                continue
            parent = stack[-1]
            if isinstance(parent[0], yaml.SequenceNode):
                parent[0].value.append(node)
            elif parent[2] is None:
                parent[2] = node
            else:
                parent[0].value.append((parent[2], node))
                parent[2] = None
    finally:
        loader.dispose()
    return docs


# --- plain values ------------------------------------------------------------------------


def _pairs(node: yaml.MappingNode, budget: list[int]) -> list[tuple[yaml.Node, yaml.Node]]:
    """A mapping's key/value nodes with ``<<`` merge keys applied (explicit keys win)."""
    explicit: list[tuple[yaml.Node, yaml.Node]] = []
    merged: list[yaml.MappingNode] = []
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.tag == _MERGE_TAG:
            sources = v.value if isinstance(v, yaml.SequenceNode) else [v]
            for s in sources:
                if not isinstance(s, yaml.MappingNode):
                    raise _Bad("a merge key ('<<') needs a mapping or a list of mappings", s)
                merged.append(s)
        else:
            explicit.append((k, v))
    if not merged:
        return explicit
    seen = {k.value for k, _ in explicit if isinstance(k, yaml.ScalarNode)}
    out = list(explicit)
    for s in merged:
        budget[0] -= len(s.value)
        if budget[0] < 0:
            raise _Bad("the document is too large once aliases are expanded", s)
        for k, v in _pairs(s, budget):
            key = k.value if isinstance(k, yaml.ScalarNode) else None
            if key is None or key not in seen:
                out.append((k, v))
                if key is not None:
                    seen.add(key)
    return out


def _plain(node: yaml.Node, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise _Bad("the document is too large once aliases are expanded", node)
    if isinstance(node, yaml.ScalarNode):
        return None if node.tag == NULL_TAG else node.value
    if isinstance(node, yaml.SequenceNode):
        return [_plain(c, budget) for c in node.value]
    if not isinstance(node, yaml.MappingNode):  # pragma: no cover - the composer makes no others
        raise _Bad("unexpected YAML node", node)
    out: dict[str, Any] = {}
    for k, v in _pairs(node, budget):
        if not isinstance(k, yaml.ScalarNode):
            raise _Bad("mapping keys must be plain strings", k)
        if k.value not in out:  # the first of duplicate keys counts, as in yaml-cpp
            out[k.value] = _plain(v, budget)
    return out


def mapping_node(node: yaml.Node, key: str) -> yaml.Node | None:
    """The value node of ``key`` in a mapping node (merge keys applied), if any."""
    if not isinstance(node, yaml.MappingNode):
        return None
    try:
        pairs = _pairs(node, [MAX_NODES])
    except _Bad:
        return None
    for k, v in pairs:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


# --- items -------------------------------------------------------------------------------


def _mark_location(mark: Any, file: str | None) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


def _yaml_error(exc: Exception, text: str, file: str | None) -> RuleFileError:
    if isinstance(exc, _Bad):
        mark = getattr(exc.node, "start_mark", None)
        loc = _mark_location(mark, file) if mark is not None else Location(file)
        return RuleFileError(f"invalid YAML: {exc.message}", loc)
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        loc = _mark_location(mark, file) if mark else Location(file)
        problem = exc.problem or exc.context or "invalid YAML"
        return RuleFileError(f"invalid YAML: {problem}", loc)
    if isinstance(exc, yaml.reader.ReaderError):
        # libyaml reports a byte offset into the UTF-8 text.
        prefix = text.encode("utf-8", "surrogatepass")[: exc.position]
        pos = len(prefix.decode("utf-8", "ignore"))
        line, col = SourceText(text).line_col(pos)
        return RuleFileError(f"invalid YAML: {exc.reason}", Location(file, line, col))
    if isinstance(exc, UnicodeError):
        bad = next((i for i, c in enumerate(text) if 0xD800 <= ord(c) < 0xE000), 0)
        line, col = SourceText(text).line_col(bad)
        return RuleFileError("invalid text: not valid Unicode", Location(file, line, col))
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return RuleFileError(f"invalid YAML: {first}", Location(file))


# A top-level item: '-' in the first column, then a blank or the end of the line.
_TOP_ITEM = re.compile(r"^-(?=[ \t]|\r?$)", re.M)
_NOT_BREAK = re.compile("[^\r\n\x85\u2028\u2029]")
MAX_YAML_ERRORS = 20
"""YAML errors reported per file before the rest of it is left unread."""


def parse_items(
    text: str, file: str | None, _recoveries: int = MAX_YAML_ERRORS
) -> tuple[list[Item], list[RuleFileError]]:
    """The top-level items of a rules file, each field with its position.

    All documents of the file count (``---`` separated); empty documents and
    empty items are skipped, as Falco does. Returns the items and the errors
    found: a bad item is skipped and the others are still read; invalid YAML
    is reported and the items before and after the broken one (top-level
    ``-`` lines) are still read, so one run shows every error of the file.
    """
    try:
        docs = _compose(text)
    except (yaml.YAMLError, _Bad) as exc:
        return _recover(text, file, _yaml_error(exc, text, file), _recoveries)
    except UnicodeError as exc:
        return [], [_yaml_error(exc, text, file)]
    return _items(docs, text, file)


def _recover(
    text: str, file: str | None, error: RuleFileError, recoveries: int
) -> tuple[list[Item], list[RuleFileError]]:
    """Items around the top-level item holding a YAML ``error``: those before it, read
    from the text cut just before it, and those after it, read from the text with
    everything before them blanked (so that every offset, line and column is the
    file's own). At most ``recoveries`` more errors are looked for after this one."""
    loc = error.location
    if recoveries <= 0 or loc is None or loc.line <= 0:
        return [], [error]
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    err_at = starts[min(loc.line, len(starts)) - 1] + max(0, loc.col - 1)
    tops = [m.start() for m in _TOP_ITEM.finditer(text)]
    # libyaml may notice an unclosed bracket only inside the next item: the broken
    # item is the last one before the error after which the text still reads.
    items: list[Item] = []
    errors: list[RuleFileError] = []
    cut = None
    for top in [t for t in tops if t < err_at][::-1][:3]:
        items, errors = parse_items(text[:top], file, 0) if top else ([], [])
        if not errors:
            cut = top
            break
    if cut is None:
        return [], [error]
    after = [t for t in tops if t > cut]
    if after and err_at >= after[0]:  # noticed in the next item: say which one is broken
        line = text.count("\n", 0, cut) + 1
        error = RuleFileError(f"{error.message} (in the item at line {line})", loc)
    errors = [error]
    if after:
        rest = _NOT_BREAK.sub(" ", text[: after[0]]) + text[after[0] :]
        more, more_errors = parse_items(rest, file, recoveries - 1)
        items += more
        errors += more_errors
    return items, errors


def _items(
    docs: list[yaml.Node | None], text: str, file: str | None
) -> tuple[list[Item], list[RuleFileError]]:
    src = SourceText(text)
    items: list[Item] = []
    errors: list[RuleFileError] = []
    budget = [MAX_NODES]
    for root in docs:
        if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == NULL_TAG):
            continue
        if not isinstance(root, yaml.SequenceNode):
            errors.append(
                RuleFileError(
                    "a rules file must be a YAML list of items (- rule:, - macro:, - list:)",
                    node_location(root, file),
                )
            )
            continue
        for child in root.value:
            if isinstance(child, yaml.ScalarNode) and child.tag == NULL_TAG:
                continue
            if not isinstance(child, yaml.MappingNode):
                errors.append(
                    RuleFileError(
                        "each item must be a mapping such as '- rule: NAME'",
                        node_location(child, file),
                    )
                )
                continue
            item = _item(child, file, src, budget, errors)
            if item is not None:
                items.append(item)
            if budget[0] < 0:
                return items, errors
    return items, errors


def _item(
    node: yaml.MappingNode,
    file: str | None,
    src: SourceText,
    budget: list[int],
    errors: list[RuleFileError],
) -> Item | None:
    fields: dict[str, Scalar] = {}
    duplicates: list[tuple[str, Location]] = []
    ok = True
    try:
        pairs = _pairs(node, budget)
    except _Bad as exc:
        errors.append(RuleFileError(f"invalid YAML: {exc.message}", node_location(exc.node, file)))
        return None
    for knode, vnode in pairs:
        if not isinstance(knode, yaml.ScalarNode):
            errors.append(
                RuleFileError("item keys must be plain strings", node_location(knode, file))
            )
            ok = False
            continue
        if str(knode.value) in fields:
            duplicates.append((str(knode.value), node_location(knode, file)))
            continue
        try:
            value = _plain(vnode, budget)
        except _Bad as exc:
            loc = node_location(exc.node, file)
            errors.append(RuleFileError(f"invalid YAML: {exc.message}", loc))
            ok = False
            continue
        fields[str(knode.value)] = Scalar(value, vnode, file, src)
    return Item(node, fields, file, duplicates) if ok else None
