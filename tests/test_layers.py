"""The architecture as a test: every module imports, no import cycle, no import from a lower layer to a higher one.

Imports at any depth count (lazy ones inside functions too). The optimizer
registry finds plugins by name through importlib (as entry points do), which
is not an import statement and not checked here.
"""
import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: package -> rank; a module may import modules of its own package or of a lower rank
LAYERS = {
    "mfkdbench.errors": 0, "mfkdbench.version": 0, "mfkdbench.progress": 0,
    "mfkdbench.nb201": 1, "mfkdbench.inputs": 1,
    "mfkdbench.lowfi": 2,
    "mfkdbench.train": 3,
    "mfkdbench.search": 4,
    "mfkdbench.mfkd": 5, "mfkdbench.baselines": 5,
    "mfkdbench.experiments": 6,
    "mfkdbench.report": 7,
    "mfkdbench.results": 8,
}


def _package(module: str) -> str | None:
    for pkg in sorted(LAYERS, key=len, reverse=True):
        if module == pkg or module.startswith(pkg + "."):
            return pkg
    return None


def _modules() -> dict[str, Path]:
    """Module name -> file; ``baselines/`` is ``mfkdbench.baselines`` (rglob does not follow the link to it)."""
    out = {}
    for root, package in (("mfkdbench", ()), ("baselines", ("mfkdbench",))):
        for path in sorted((REPO / root).rglob("*.py")):
            parts = [*package, *path.relative_to(REPO).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _imports(module: str, path: Path) -> set[str]:
    """Absolute names of the project modules that ``module`` imports, anywhere in the file."""
    is_pkg = path.name == "__init__.py"
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                prefix = ".".join(base[: len(base) - node.level + 1])
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module
            names = [target] + [f"{target}.{a.name}" for a in node.names]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] in ("mfkdbench", "baselines"))  # a bare "baselines" fails below
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module a dotted import name refers to (``pkg.mod.attr`` -> ``pkg.mod``; a public API name
    ``mfkdbench.simulate`` -> the module that defines it)."""
    import mfkdbench

    head, _, attr = name.partition(".")[2].partition(".")
    if name.startswith("mfkdbench.") and head in mfkdbench._API:
        return mfkdbench._API[head]
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def test_every_module_imports():
    import mfkdbench

    names = {info.name for info in pkgutil.walk_packages(mfkdbench.__path__, "mfkdbench.")}
    for name in sorted(names):
        importlib.import_module(name)
    assert set(MODULES) - {"mfkdbench"} <= names  # the baselines folder too, as mfkdbench.baselines


@pytest.mark.parametrize("module", [m for m in MODULES if m != "mfkdbench"])
def test_no_upward_or_sideways_import(module):
    own = _package(module)
    assert own is not None, f"{module} is in no layer; add its package to LAYERS"
    for name in _imports(module, MODULES[module]):
        target = _resolve(name)
        assert target is not None, f"{module} imports {name}, which is no project module"
        assert target != "mfkdbench", f"{module} imports the package root; import a public name or its module"
        other = _package(target)
        assert other == own or LAYERS[other] < LAYERS[own], \
            f"{module} ({own}, layer {LAYERS[own]}) imports {target} ({other}, layer {LAYERS[other]})"


def test_no_import_cycle():
    graph = {m: {_resolve(n) for n in _imports(m, p)} - {None, m, "mfkdbench"} for m, p in MODULES.items()}
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join(trail[trail.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_the_simulator_never_imports_torch():
    code = ("import sys, mfkdbench, click_cli; from mfkdbench import simulate, load_benchmark; "
            "import mfkdbench.report.pipeline, mfkdbench.experiments.grid, mfkdbench.mfkd.searches; "
            "from mfkdbench.search.optimizer import optimizer_names; optimizer_names(); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_public_api_short_paths():
    import mfkdbench
    from mfkdbench.search.simulator import simulate

    assert mfkdbench.simulate is simulate
    assert {"simulate", "load_benchmark", "Budget", "Optimizer", "register", "Trial"} <= set(mfkdbench.__all__)
    assert mfkdbench.__version__ and mfkdbench.__version__[0].isdigit()
    with pytest.raises(AttributeError):
        mfkdbench.no_such_name
