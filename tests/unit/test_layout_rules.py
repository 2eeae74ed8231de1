"""The house rules of the code's layout (docs/ARCHITECTURE.md), read from the source itself:
which package may import which, no import cycles, no module over about 400 lines, and the
light packages (the store, the lab, the settings, the cluster's client) importing no Keras."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MOST_LINES = 400
# The app's own code; tests, benchmarks and migrations are not modules of the app.
SOURCES = [
    *ROOT.glob("core/**/*.py"),
    *ROOT.glob("ui/*.py"),
    *ROOT.glob("pages/*.py"),
    *ROOT.glob("deploy/*.py"),
    ROOT / "app.py",
]
SOURCES = [path for path in SOURCES if "migrations" not in path.parts]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in SOURCES}


def imports_of(path: Path) -> set[str]:
    """Every module of ours that `path` imports, at its top or inside a function: `from a.b
    import c` names `a.b.c` when that is a module of ours, else `a.b`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
    return found


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_graph_sees_the_modules_and_their_imports():
    # The rules below mean something only if the parser finds what is there.
    assert {"core.ml.training", "core.store", "core.lab.runs", "ui.sidebar", "app"} <= set(GRAPH)
    assert "core.ml.choices" in GRAPH["core.lab.runs"]
    assert "core.store" in GRAPH["core.lab.runs"]


def imports_from(package: str, allowed) -> list[tuple[str, str]]:
    """(module, what it imports) for every import of a module in `package` that `allowed`
    (a test on the imported name) refuses."""
    return sorted(
        (name, imported)
        for name, imported_names in GRAPH.items()
        if in_package(name, package)
        for imported in imported_names
        if not allowed(imported)
    )


def ml_may_import(name: str) -> bool:
    """Libraries, `core.ml` itself and the messages (core.i18n: its texts are marked for
    translation): nothing of the lab, the store or the cluster."""
    return name not in MODULES or in_package(name, "core.ml") or name == "core.i18n"


def test_core_ml_imports_nothing_of_the_lab_the_store_or_the_cluster():
    assert not imports_from("core.ml", ml_may_import)


def test_the_lab_does_not_import_the_cluster():
    """The lab's rules hand runs to a cluster object they are given (core.lab.runs)."""
    assert not imports_from("core.lab", lambda name: not in_package(name, "core.cluster"))


def test_nothing_in_core_imports_streamlit_or_the_ui():
    refused = ("streamlit", "ui", "pages")
    assert not imports_from("core", lambda name: name.split(".")[0] not in refused)


def test_the_rules_would_see_a_wrong_import():
    GRAPH["core.ml.fake"] = {"core.store", "streamlit"}
    try:
        assert imports_from("core.ml", ml_may_import) == [("core.ml.fake", "core.store")]
        assert ("core.ml.fake", "streamlit") in imports_from("core", lambda n: n != "streamlit")
    finally:
        del GRAPH["core.ml.fake"]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, found by depth-first search (each reported once per entry point)."""
    found, state = [], {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for imported in sorted(graph[name] & graph.keys()):
            if state.get(imported) == "open":
                found.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*path, imported])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return found


def test_no_import_cycles():
    assert not cycles(GRAPH), cycles(GRAPH)


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b", "os"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_module_is_over_about_400_lines():
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert not {name: lines for name, lines in sizes.items() if lines > MOST_LINES}


@pytest.mark.parametrize(
    "module",
    [
        "core",
        "core.config",
        "core.store",
        "core.lab.runs",
        "core.lab.classroom",
        "core.cluster.client",
        "core.cluster.scheduler",
        "core.ml.choices",
        "core.ml.train_config",
        "core.ml.variants",
        # What the pages compute with (issue 28: the web tier runs without TensorFlow).
        "core.ml.served",
        "core.ml.inside",
        "core.ml.export",
        "core.ml.replay",
        "core.ml.codegen",
        "core.ml.preprocess",
    ],
)
def test_light_modules_load_no_keras_or_tensorflow(module):
    """In a fresh interpreter: what pages, commands and the scheduler import for the store,
    the lab's rules, the settings and the cluster must not pay Keras's 600 MB and 3 s."""
    script = (
        f"import json, sys, {module}\n"
        "print(json.dumps([m for m in ('keras', 'tensorflow', 'streamlit') if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
