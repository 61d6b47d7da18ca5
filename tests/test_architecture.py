import ast
import subprocess
import sys
from pathlib import Path


def test_core_never_imports_the_app_stack():
    code = (
        "import sys, uplift_studio, uplift_studio.core.data, uplift_studio.core.simulate, uplift_studio.core.readout;"
        "import importlib, pkgutil, uplift_studio.core as core;"
        "[importlib.import_module(m.name) for m in pkgutil.iter_modules(core.__path__, 'uplift_studio.core.')];"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'panel', 'holoviews', 'bokeh', 'param'});"
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"core imported {result.stdout.strip()}"


def test_the_guard_itself_can_fail():
    # The same probe sees the app stack when something does import it: the check above is not vacuous.
    code = "import sys, param; print('param' in {m.split('.')[0] for m in sys.modules})"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"


PACKAGE = Path(__file__).resolve().parents[1] / "uplift_studio"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Package modules that ``path`` imports, at module level or inside functions alike: a cycle through a
    deferred import is still a cycle of responsibilities."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    # a package's __init__ is not a dependency of its submodules' responsibilities
    return {name: _imports(path, set(files)) - {name} - {"uplift_studio"} for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (depth-first search), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_circle_in_the_package():
    graph = import_graph()
    assert "uplift_studio.core.budget" in graph["uplift_studio.core.analysis"]  # the parser sees imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_circle_finder_finds_circles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a"}}) is None


def test_no_product_module_is_over_450_lines():
    sizes = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in PACKAGE.rglob("*.py")}
    assert max(sizes.values()) > 100  # the count reads real files
    assert {name: lines for name, lines in sizes.items() if lines > 450} == {}


def test_the_app_starts_without_the_fitting_and_statistics_stack():
    # a warm start reads the disk cache and draws: XGBoost, scikit-learn and scipy.stats (1-2 s of imports on
    # this machine) are needed only to fit, and are imported then
    # (asking whether the data is an offer experiment once imported scipy.stats on every warm start)
    code = (
        "import sys, uplift_studio.app.server;"
        "from uplift_studio.app.jobs import _is_offers;"
        "from uplift_studio.core.simulate import simulate_campaign;"
        "assert not _is_offers(simulate_campaign(1_000));"
        "print(','.join(m for m in ('xgboost', 'sklearn', 'scipy.stats') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
