"""Load flow files: safe YAML, typed validation, cross-checks, precise errors.

Loading is all-or-nothing: :func:`load_flow` either returns a valid
:class:`~ivr.flow.model.Flow` or raises :class:`~ivr.errors.FlowError` with
every problem found, each as ``file:line:col: message`` with a fix.
"""

from __future__ import annotations

import difflib
import stat
from pathlib import Path

from pydantic import BaseModel, ValidationError

from ..errors import FlowError, Problem
from . import limits
from . import model as m
from .loaded import LoadedFlow
from .validate import cross_check
from .yaml_source import SourceList, SourceMap, YamlDocument, locate, locate_key, parse_yaml


def _fields_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


_MODEL_AT: dict[str, type[BaseModel]] = {
    "settings": m.Settings, "menu": m.Menu, "ask": m.Ask, "action": m.Action,
    "branch": m.Branch, "transfer": m.Transfer, "options": m.Option,
    "when": m.Condition, "cases": m.Case, "queues": m.Queue, "hooks": m.HttpHook,
    "target": m.Target, "hours": m.Hours, "routing": m.RoutingRule, "voicemail": m.Voicemail,
    "callback": m.Callback, "survey": m.Survey, "questions": m.Question,
}


def _model_for(loc: tuple) -> type[BaseModel]:
    """Which model an error location belongs to, for 'did you mean' hints."""
    current: type[BaseModel] = m.Flow
    for part in loc[:-1]:
        if isinstance(part, str):
            if part == "nodes":
                current = m.Node
            elif part == "when" and current is m.RoutingRule:
                current = m.RouteWhen
            elif part in _MODEL_AT:
                current = _MODEL_AT[part]
    return current


def _pydantic_problems(exc: ValidationError, doc: YamlDocument) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "literal"))))
        where = ".".join(str(p) for p in loc) or "flow"
        kind = err["type"]
        if kind == "extra_forbidden":
            name = str(loc[-1])
            known = _fields_of(_model_for(loc))
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known properties: {', '.join(sorted(known))}"
            line, col = locate_key(doc.data, loc)
            msg = f"unknown property '{name}' in {'.'.join(str(p) for p in loc[:-1]) or 'flow'}; {hint}"
        elif kind == "missing":
            line, col = locate(doc.data, loc[:-1])
            msg = f"missing required property '{loc[-1]}' in {'.'.join(str(p) for p in loc[:-1]) or 'flow'}"
            if loc == ("start",):
                msg += "; add 'start: <node id>' naming the first node"
        else:
            line, col = locate(doc.data, loc)
            text = err["msg"].removeprefix("Value error, ")
            got = err.get("input")
            if kind.endswith("_type") or kind.startswith(("string_", "int_", "float_", "bool_", "list_", "dict_")):
                text = f"{text} (got {type(got).__name__} {got!r})" if not isinstance(got, (dict, list)) else text
            msg = f"{where}: {text}"
        problems.append(Problem(doc.file, line, col, msg))
    return problems


def _structure_problems(doc: YamlDocument) -> list[Problem]:
    """Checks that must run on the raw YAML (before types erase the evidence)."""
    data, file = doc.data, doc.file
    problems: list[Problem] = []
    if not isinstance(data, SourceMap):
        return [Problem(file, 1, 1, "a flow file must be a mapping with 'flow:', 'start:' and 'nodes:'")]
    nodes = data.get("nodes")
    if not isinstance(nodes, SourceMap):
        return problems
    if len(nodes) > limits.MAX_NODES:
        line, col = data.key_pos["nodes"]
        return [Problem(file, line, col, f"the flow has {len(nodes)} nodes; a flow may have at most "
                        f"{limits.MAX_NODES}: split it into several flows, each reached by its own number "
                        "(numbers:) or entry point (?entry=NAME)")]
    for node_id, node in nodes.items():
        line, col = nodes.val_pos[node_id]
        if not isinstance(node, SourceMap):
            problems.append(Problem(file, line, col, f"node '{node_id}' must be a mapping with one kind key "
                                    f"({', '.join(k for k in m.NODE_KINDS if k not in m.RESERVED_KINDS)})"))
            continue
        kinds = [k for k in node if k in m.NODE_KINDS]
        if not kinds:
            others = [k for k in node if k not in ("next", "description")]
            guess = difflib.get_close_matches(others[0], m.NODE_KINDS, n=1) if others else []
            what = f"unknown node kind '{others[0]}'" if others else "no node kind"
            hint = f"did you mean '{guess[0]}'?" if guess else f"use one of {', '.join(m.NODE_KINDS)}"
            kline, kcol = node.key_pos[others[0]] if others else (line, col)
            problems.append(Problem(file, kline, kcol, f"node '{node_id}': {what}; {hint}"))
            continue
        if len(kinds) > 1:
            kline, kcol = node.key_pos[kinds[1]]
            problems.append(Problem(file, kline, kcol, f"node '{node_id}' has two kinds ({', '.join(kinds)}); "
                                    "a node does one thing: split it into two nodes joined by next:"))
            continue
        kind = kinds[0]
        if node[kind] is None and kind != "hangup":  # "menu:" with nothing under it, or mis-indented fields
            kline, kcol = node.key_pos[kind]
            problems.append(Problem(file, kline, kcol, f"node '{node_id}': '{kind}' is empty; write its "
                                    f"value after '{kind}:' or indent its fields under it"))
            continue
        if kind in m.RESERVED_KINDS:
            kline, kcol = node.key_pos[kind]
            problems.append(Problem(file, kline, kcol, f"node '{node_id}': node kind '{kind}' is reserved "
                                    "and not available in this version"))
        if "next" in node and kind not in ("say", "ask", "survey"):
            kline, kcol = node.key_pos["next"]
            where = {"menu": "each option's goto", "action": "action.outcomes / action.default",
                     "branch": "branch.cases / branch.default"}.get(kind, "nothing: this node ends self-service")
            problems.append(Problem(file, kline, kcol, f"node '{node_id}': a {kind} node has no 'next'; "
                                    f"it continues through {where}"))
        spec = node.get(kind)
        if kind in ("ask", "survey") and isinstance(spec, SourceMap) and "next" in spec and "next" in node:
            kline, kcol = spec.key_pos["next"]
            problems.append(Problem(file, kline, kcol, f"node '{node_id}': 'next' given twice; keep one"))
        if kind == "survey" and isinstance(spec, SourceMap) and "next" not in spec and "next" not in node:
            kline, kcol = node.key_pos[kind]
            problems.append(Problem(file, kline, kcol, f"node '{node_id}': a survey needs next: under survey: "
                                    "(the node after the last question, e.g. a hangup that says goodbye)"))
        if kind == "menu" and isinstance(spec, SourceMap) and isinstance(spec.get("options"), SourceList):
            problems += _menu_size_problems(file, node_id, spec["options"])
            for i, opt in enumerate(spec["options"]):
                if isinstance(opt, SourceMap) and "key" in opt:
                    kline, kcol = opt.val_pos["key"]
                    value = opt["key"]
                    if value is None:
                        problems.append(Problem(file, kline, kcol, f"node '{node_id}' option {i + 1}: the key is "
                                                "empty: an unquoted # starts a YAML comment; quote it: key: \"#\""))
                    elif not opt.quoted["key"]:
                        raw = opt.raw.get("key", str(value))
                        problems.append(Problem(file, kline, kcol, f"node '{node_id}' option {i + 1}: menu keys must "
                                                f"be quoted: YAML reads {raw} as {type(value).__name__} {value!r} "
                                                f"(010 becomes 8, yes becomes true); write key: \"{raw}\""))
    return problems


def _menu_size_problems(file: str, node_id: str, options: SourceList) -> list[Problem]:
    """Options and phrases beyond :mod:`~ivr.flow.limits` (phrase checks compare every pair)."""
    out: list[Problem] = []
    if len(options) > limits.MAX_MENU_OPTIONS:
        line, col = options.item_pos[limits.MAX_MENU_OPTIONS]
        out.append(Problem(file, line, col, f"node '{node_id}': {len(options)} options; a menu may have at most "
                           f"{limits.MAX_MENU_OPTIONS} (callers remember about five): split it into sub-menus"))
    for i, opt in enumerate(options):
        phrases = opt.get("say") if isinstance(opt, SourceMap) else None
        if isinstance(phrases, SourceList) and len(phrases) > limits.MAX_PHRASES:
            line, col = phrases.item_pos[limits.MAX_PHRASES]
            out.append(Problem(file, line, col, f"node '{node_id}' option {i + 1}: {len(phrases)} phrases; an option "
                               f"may have at most {limits.MAX_PHRASES}: keep the words callers really say"))
    return out


def load_flow_text(text: str, file: str) -> LoadedFlow:
    """Validate flow source text; raises FlowError listing every problem."""
    doc = parse_yaml(text, file)
    problems = _structure_problems(doc)
    if problems:
        raise FlowError(problems)
    try:
        flow = m.Flow.model_validate(doc.data)
    except ValidationError as exc:
        raise FlowError(_pydantic_problems(exc, doc)) from None
    loaded = LoadedFlow(flow, file, doc.data)
    problems = cross_check(loaded)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise FlowError(errors)
    return loaded


def load_flow(path: str | Path) -> LoadedFlow:
    """Load and validate one flow file.

    The size is checked with ``stat`` before reading, and no more than
    :data:`~ivr.flow.limits.MAX_FILE_BYTES` is ever read, so a 50 MB file, a
    device or a FIFO dropped into ``flows/`` is refused at once.
    """
    p = Path(path)
    try:
        st = p.stat()
        if not stat.S_ISREG(st.st_mode):
            raise FlowError([Problem(str(path), 1, 1, "not a regular file (a directory, device or pipe); "
                                     "a flow is a YAML text file: move it out of the flows directory")])
        _check_size(str(path), st.st_size)
        with p.open("rb") as fh:
            raw = fh.read(limits.MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise FlowError([Problem(str(path), 1, 1, "no such file")]) from None
    except OSError as exc:
        raise FlowError([Problem(str(path), 1, 1, f"cannot read the file ({exc.strerror}); "
                                 "check its permissions")]) from None
    _check_size(str(path), len(raw))  # it grew between stat and read
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FlowError([Problem(str(path), 1, 1, f"not UTF-8 text ({exc.reason}); save the file as UTF-8")]) from None
    return load_flow_text(text, str(path))


def _check_size(file: str, size: int) -> None:
    if size > limits.MAX_FILE_BYTES:
        raise FlowError([Problem(file, 1, 1, f"the file is {limits.human_size(size)}; a flow file may be at most "
                                 f"{limits.human_size(limits.MAX_FILE_BYTES)} (real flows are a few KiB): "
                                 "split it into several flows, one file each")])


def flow_files(directory: str | Path) -> list[Path]:
    """The flow files of a directory, sorted (``*.yaml`` and ``*.yml``)."""
    d = Path(directory)
    return sorted([*d.glob("*.yaml"), *d.glob("*.yml")])
