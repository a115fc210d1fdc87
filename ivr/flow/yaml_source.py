"""Safe YAML loading that remembers where every value came from.

Flow designers need errors as ``file:line:col``, so the loader keeps the
position of every mapping key and value.  It is stricter than
``yaml.safe_load`` where YAML's generosity hurts IVR designers:

* aliases and anchors are refused (they make flows hard to read and allow
  "billion laughs" blow-ups);
* duplicate keys are refused (YAML silently keeps the last one);
* keys must be strings (``yes:``/``on:`` become booleans, ``010:`` becomes 8);
* tags (``!!float``, ``!!python/object``) are refused: a flow holds plain values;
* the limits of :mod:`ivr.flow.limits` (depth, entries, text length) hold
  before anything is composed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import FlowError, Problem
from . import limits

Pos = tuple[int, int]


class SourceMap(dict):
    """A dict that knows the 1-based (line, col) of itself, its keys and values."""

    pos: Pos
    key_pos: dict[str, Pos]
    val_pos: dict[str, Pos]
    quoted: dict[str, bool]
    raw: dict[str, str]


class SourceList(list):
    """A list that knows the (line, col) of itself and of each item."""

    pos: Pos
    item_pos: list[Pos]
    quoted: list[bool]


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file: its data (SourceMap/SourceList/scalars) and name."""

    file: str
    data: Any


def _pos(node: Node) -> Pos:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _quoted(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.style in ("'", '"', "|", ">")


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and enforces :mod:`~ivr.flow.limits` as events stream in.

    Composing YAML recurses once per nesting level, so the depth, size and
    text limits are checked on each event *before* it is composed: a file
    nested 100,000 levels deep is refused at level 33, never with a
    ``RecursionError``.  Construction is done by :func:`_build`.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._open: list[list] = []  # per open collection: [is_mapping, YAML nodes composed in it]

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(event.start_mark, "YAML aliases (*name) are not allowed in flows; "
                           "write the value out in full")
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _Refused(event.start_mark, f"YAML anchors (&{anchor}) are not allowed in flows; "
                           "write the value out in full")
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!":  # "!" is how a quoted scalar says "text"
            tag = tag.replace("tag:yaml.org,2002:", "!!")
            raise _Refused(event.start_mark, f"YAML tags ({tag}) are not allowed in flows; write the plain "
                           "value (quote it to keep it as text)")
        self._count_entry(event)
        if isinstance(event, yaml.ScalarEvent) and len(event.value) > limits.MAX_TEXT_CHARS:
            raise _Refused(event.start_mark, f"a text of {len(event.value):,} characters; a flow text may have at "
                           f"most {limits.MAX_TEXT_CHARS:,}: shorten it or split it over several nodes")
        if not isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            return super().compose_node(parent, index)
        if len(self._open) >= limits.MAX_DEPTH:
            raise _Refused(event.start_mark, f"YAML nested more than {limits.MAX_DEPTH} levels deep; a flow needs "
                           "about 10: look for an unclosed [ or {, or flatten the structure")
        self._open.append([isinstance(event, yaml.MappingStartEvent), 0])
        try:
            return super().compose_node(parent, index)
        finally:
            self._open.pop()

    def _count_entry(self, event: yaml.Event) -> None:
        """One more node in the innermost open collection (a mapping counts keys and values)."""
        if not self._open:
            return
        entry = self._open[-1]
        entry[1] += 1
        in_mapping = entry[0]
        count = (entry[1] + 1) // 2 if in_mapping else entry[1]
        if count > limits.MAX_ITEMS:
            what = "mapping" if in_mapping else "list"
            raise _Refused(event.start_mark, f"a {what} with more than {limits.MAX_ITEMS:,} entries; a flow needs "
                           f"far fewer (at most {limits.MAX_NODES} nodes): split it into several flows")

    _BREAKS = "\0 \t\r\n\x85\u2028\u2029"

    def scan_plain(self):  # type: ignore[override]
        """PyYAML's plain-scalar scanner, but a ``?`` inside ``{...}``/``[...]`` text is text (YAML 1.2).

        Why: PyYAML (YAML 1.1) ends a plain scalar at any ``?`` in flow context, so the most natural
        survey line, ``- {id: csat, kind: csat, prompt: How satisfied are you? Press 1 to 5.}``, is a
        syntax error there. YAML 1.2 only treats ``?`` as an indicator at the start of a token, which
        :meth:`check_key` still does.
        """
        chunks: list[str] = []
        start_mark = self.get_mark()
        end_mark = start_mark
        indent = self.indent + 1
        spaces: list[str] = []
        breaks = self._BREAKS
        while True:
            length = 0
            if self.peek() == "#":
                break
            while True:
                ch = self.peek(length)
                if ch in breaks or (ch == ":" and self.peek(length + 1) in breaks + (",[]{}" if self.flow_level
                                                                                   else "")) \
                        or (self.flow_level and ch in ",[]{}"):
                    break
                length += 1
            if length == 0:
                break
            self.allow_simple_key = False
            chunks.extend(spaces)
            chunks.append(self.prefix(length))
            self.forward(length)
            end_mark = self.get_mark()
            spaces = self.scan_plain_spaces(indent, start_mark)
            if not spaces or self.peek() == "#" or (not self.flow_level and self.column < indent):
                break
        return yaml.tokens.ScalarToken("".join(chunks), True, start_mark, end_mark)


class _Refused(Exception):
    def __init__(self, mark, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


def _build(node: Node, file: str, problems: list[Problem], constructor: yaml.SafeLoader) -> Any:
    if isinstance(node, MappingNode):
        out = SourceMap()
        out.pos = _pos(node)
        out.key_pos, out.val_pos, out.quoted, out.raw = {}, {}, {}, {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                problems.append(Problem(file, *_pos(key_node),
                                        "YAML merge keys (<<) are not allowed in flows; write the keys out"))
                continue
            key = _construct(key_node, file, constructor)
            if not isinstance(key, str):
                raw = key_node.value if isinstance(key_node, ScalarNode) else "?"
                problems.append(Problem(
                    file, *_pos(key_node),
                    f"key {raw!r} is read by YAML as {type(key).__name__} {key!r}, not text; "
                    f'quote it: "{raw}":'))
                continue
            if key in out:
                line, col = out.key_pos[key]
                problems.append(Problem(
                    file, *_pos(key_node),
                    f"duplicate key {key!r} (first defined at line {line}); "
                    "YAML would silently keep only the last one: remove or rename one"))
                continue
            out[key] = _build(value_node, file, problems, constructor)
            out.key_pos[key] = _pos(key_node)
            out.val_pos[key] = _pos(value_node)
            out.quoted[key] = _quoted(value_node)
            if isinstance(value_node, ScalarNode):
                out.raw[key] = value_node.value
        return out
    if isinstance(node, SequenceNode):
        seq = SourceList()
        seq.pos = _pos(node)
        seq.item_pos = []
        seq.quoted = []
        for item in node.value:
            seq.append(_build(item, file, problems, constructor))
            seq.item_pos.append(_pos(item))
            seq.quoted.append(_quoted(item))
        return seq
    return _construct(node, file, constructor)


def parse_yaml(text: str, file: str) -> YamlDocument:
    """Parse one YAML document with positions, or raise FlowError listing every problem."""
    if len(text) > limits.MAX_FILE_BYTES:
        raise FlowError([Problem(file, 1, 1, f"the flow text is {limits.human_size(len(text))}; a flow file may be "
                                 f"at most {limits.human_size(limits.MAX_FILE_BYTES)}: split it into several flows")])
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:  # raised by the reader's first look at the text
        raise FlowError([_reader_problem(text, file, exc)]) from None
    try:
        try:
            root = loader.get_single_node()
        except _Refused as exc:
            raise FlowError([Problem(file, exc.mark.line + 1, exc.mark.column + 1, exc.message)]) from None
        except yaml.reader.ReaderError as exc:
            raise FlowError([_reader_problem(text, file, exc)]) from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            msg = f"YAML syntax error: {exc.problem or exc.context}"
            hint = _syntax_hint(exc)
            raise FlowError([Problem(file, line, col, msg + (f"; {hint}" if hint else ""))]) from None
        except yaml.YAMLError as exc:
            raise FlowError([Problem(file, 1, 1, f"YAML error: {exc}")]) from None
        if root is None:
            raise FlowError([Problem(file, 1, 1, "the file is empty; a flow needs at least "
                                     "'flow:', 'start:' and 'nodes:'")])
        problems: list[Problem] = []
        try:
            data = _build(root, file, problems, loader)
        except yaml.constructor.ConstructorError as exc:
            mark = exc.problem_mark
            raise FlowError([Problem(file, mark.line + 1 if mark else 1, mark.column + 1 if mark else 1,
                                     f"YAML error: {exc.problem}")]) from None
        if problems:
            raise FlowError(problems)
        return YamlDocument(file, data)
    finally:
        loader.dispose()


def _reader_problem(text: str, file: str, exc: yaml.reader.ReaderError) -> Problem:
    """A character YAML refuses (NUL, U+FFFF...), at its line and column."""
    before = text[:exc.position]
    line = before.count("\n") + 1
    col = exc.position - (before.rfind("\n") + 1) + 1
    char = exc.character if isinstance(exc.character, str) else chr(exc.character)
    return Problem(file, line, col, f"the character U+{ord(char):04X} is not allowed in YAML; delete it "
                   "(the file may be binary or saved in the wrong encoding: save it as UTF-8 text)")


def _construct(node: Node, file: str, constructor: yaml.SafeLoader) -> Any:
    """A scalar's value; a value YAML matches but cannot build (2026-13-45, a 5,000-digit number) is a problem."""
    try:
        return constructor.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"cannot read {node.value[:40]!r} as {node.tag.rsplit(':', 1)[-1]} "
            f"({str(exc).split(';')[0]}); quote it to keep it as text", node.start_mark) from None


def _syntax_hint(exc: yaml.MarkedYAMLError) -> str:
    problem = (exc.problem or "") + (exc.context or "")
    if "mapping values are not allowed" in problem:
        return "a text value containing ': ' must be quoted"
    if "found character '\\t'" in problem or "\\t" in problem:
        return "indent with spaces, not tabs"
    if "expected ',' or '}'" in problem or "expected ',' or ']'" in problem:
        return "inside {...} or [...] quote text that contains ? : , # [ ] { }"
    if "could not find expected ':'" in problem:
        return "check the indentation and that each key ends with ':'"
    return ""


def locate(data: Any, loc: tuple, default: Pos = (1, 1)) -> Pos:
    """Best position for a path of keys/indices into parsed data.

    The position of the deepest existing element on the path is returned, so
    a missing field points at the mapping that should hold it.
    """
    pos = getattr(data, "pos", default)
    cur = data
    for part in loc:
        if isinstance(cur, SourceMap) and isinstance(part, str) and part in cur:
            pos = cur.val_pos.get(part, pos)
            cur = cur[part]
        elif isinstance(cur, SourceList) and isinstance(part, int) and 0 <= part < len(cur):
            pos = cur.item_pos[part]
            cur = cur[part]
        else:
            break
    return pos


def locate_key(data: Any, loc: tuple, default: Pos = (1, 1)) -> Pos:
    """Position of the *key* at the end of ``loc`` (for 'unknown property' errors)."""
    if not loc:
        return getattr(data, "pos", default)
    parent_loc, last = loc[:-1], loc[-1]
    cur = data
    for part in parent_loc:
        if isinstance(cur, SourceMap) and part in cur:
            cur = cur[part]
        elif isinstance(cur, SourceList) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
        else:
            return locate(data, loc, default)
    if isinstance(cur, SourceMap) and last in cur.key_pos:
        return cur.key_pos[last]
    return locate(data, loc, default)
