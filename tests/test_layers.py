"""The package's shape: dependencies point downwards only, and nothing imports in a circle.

The graph is built from the source (every ``import``, lazy ones inside
functions included), so a cycle cannot hide behind a local import, and a new
package must be given a layer here before it can land. The layers are those
of the README's "Architecture" section.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "ivr"

CORE, SETTINGS, SERVICES, ORCHESTRATION, SURFACES, TOOLS = 1, 2, 3, 4, 5, 6
LAYERS: dict[str, int] = {
    "ivr": 0, "errors": 0,                              # the project error hierarchy, the version
    "flow": CORE, "engine": CORE,                       # pure: events in, actions out
    "config": SETTINGS,                                 # every setting, read once from the environment
    "store": SERVICES, "speech": SERVICES, "prompts": SERVICES, "hooks": SERVICES, "handoff": SERVICES,
    "auth": SERVICES, "analytics": SERVICES,
    "calls": ORCHESTRATION, "services": ORCHESTRATION,  # the driver, the one Services container
    "web": SURFACES, "sim": SURFACES, "console": SURFACES, "testing": SURFACES,
    "cli": TOOLS, "bench": TOOLS, "__main__": TOOLS,
}
FLASK_ALLOWED = ("ivr.web", "ivr.bench.bare")
"""Only the web surface imports Flask (and the bare Flask route the webhook benchmark compares against)."""
CORE_FORBIDDEN = {"flask", "flask_sock", "twilio", "sqlalchemy", "redis", "requests", "httpx", "socket",
                  "urllib.request", "http.client", "numpy", "soxr", "audioop", "webrtcvad", "pocketsphinx", "vosk",
                  "faster_whisper", "pyttsx3", "subprocess", "threading", "concurrent.futures"}
"""The pure core does no IO: no web, telephony, storage, network, audio or process libraries."""
CORE_ALLOWED = {"ivr.flow.registry": {"threading"}}
"""The one exception: the live flow set polls its directory for hot reload (the loader reads files; the
engine reads nothing)."""


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, int]]:
    """Every module this one imports (absolute names), lazy imports included, with line numbers."""
    is_pkg = path.name == "__init__.py"
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                found.append((sub if sub in MODULES else mod, node.lineno))
    return found


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "ivr"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_every_package_has_a_layer() -> None:
    missing = sorted({_top(m) for m in MODULES} - set(LAYERS))
    assert not missing, f"give {missing} a layer in tests/test_layers.py and the README's Architecture section"


def test_imports_point_downwards_only() -> None:
    wrong = []
    for name, imports in IMPORTS.items():
        src = _top(name)
        for target, line in imports:
            if target.split(".")[0] != "ivr" or _top(target) == src:
                continue
            if LAYERS[_top(target)] > LAYERS[src]:
                wrong.append(f"{MODULES[name].relative_to(ROOT)}:{line}: {src} (layer {LAYERS[src]}) imports "
                             f"{target} (layer {LAYERS[_top(target)]})")
    assert not wrong, "imports that point upwards:\n" + "\n".join(wrong)


def test_no_package_imports_in_a_circle() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for name, imports in IMPORTS.items():
        for target, _ in imports:
            if target.split(".")[0] == "ivr" and _top(target) != _top(name):
                edges[_top(name)].add(_top(target))
    assert _cycles(edges) == []


def test_no_module_imports_in_a_circle() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for name, imports in IMPORTS.items():
        edges[name] |= {t for t, _ in imports if t in MODULES and t != name}
    assert _cycles(edges) == []


def test_the_core_does_no_io() -> None:
    wrong = [f"{MODULES[name].relative_to(ROOT)}:{line}: {target}"
             for name, imports in IMPORTS.items() if LAYERS[_top(name)] <= CORE
             for target, line in imports if target not in CORE_ALLOWED.get(name, ())
             if any(target == f or target.startswith(f + ".") for f in CORE_FORBIDDEN)]
    assert not wrong, "the pure core imports IO libraries:\n" + "\n".join(wrong)


def test_only_the_web_surface_imports_flask() -> None:
    wrong = [f"{MODULES[name].relative_to(ROOT)}:{line}: {target}"
             for name, imports in IMPORTS.items() if not name.startswith(FLASK_ALLOWED)
             for target, line in imports if target.split(".")[0] in ("flask", "flask_sock", "werkzeug")]
    assert not wrong, "Flask outside ivr/web:\n" + "\n".join(wrong)


def test_cycle_finder_finds_a_cycle() -> None:
    """The check above can fail: a two-module and a three-module circle are both found."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": {"c"}}) == []


@pytest.mark.parametrize("chunk", range(4))
def test_every_module_imports_on_its_own(chunk: int) -> None:
    """Each module imports first, in a fresh set of ivr modules: no import order hides a cycle."""
    names = sorted(n for n in MODULES if n != "ivr.__main__")[chunk::4]
    code = (
        "import importlib, sys\n"
        f"names = {names!r}\n"
        "failed = []\n"
        "for n in names:\n"
        "    for k in [k for k in sys.modules if k == 'ivr' or k.startswith('ivr.')]:\n"
        "        del sys.modules[k]\n"
        "    try:\n"
        "        importlib.import_module(n)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{n}: {type(exc).__name__}: {exc}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
