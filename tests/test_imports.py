"""The package imports only downward, in the data-flow order of docs/design/image_track.md, and
no two modules import each other (directly or through a circle).

Order (a package may import the packages before it):

    geometry → handmodel → render → formats → simulators → datasets → models → losses
    → training → metrics → inference → reports → experiments → demo, demo_image → cli
    → __main__

``formats`` holds the file formats and the sample schema (image sample schema, sharded image
storage, the IMU file): the simulators write them and the dataset loaders read them, so they sit
below both (the simulators must not import ``datasets``, which builds on the simulators' sensor
layouts and degradations). ``metrics`` sits beside the chain: it imports only geometry and
handmodel, and anything above handmodel may import it (its ``plots`` module draws the per-joint
error pictures that both inference and reports write). ``errors``, ``utils`` and the package
root (``handpose.__version__``) are the base every package may import; they import nothing above
themselves. Imports at module level and inside functions count alike (a function-level import is
still a dependency; it only moves the failure to run time). Exceptions must be listed in
``ALLOWED`` with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "handpose"
ORDER = (
    "geometry", "handmodel", "render", "formats", "simulators", "datasets", "models", "losses",
    "training", "metrics", "inference", "reports", "experiments", "demo",
    "demo_image", "cli", "__main__",
)  # fmt: skip
BASE = ("errors", "utils", "")  # "" = the package root, handpose/__init__.py
METRICS_MAY_IMPORT = ("geometry", "handmodel", "metrics")

# (importing module, imported module) → why it is allowed. Keep this empty if at all possible.
ALLOWED: dict[tuple[str, str], str] = {}


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts)
        out[name.removesuffix(".__init__")] = f
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    parts = name.split(".")
    while parts:
        if ".".join(parts) in MODULES:
            return ".".join(parts)
        parts.pop()
    return None


def imports_of(module: str) -> list[tuple[str, int]]:
    """(imported handpose module, line) for every import statement in ``module``, at any
    depth (module level, functions, classes, ``if TYPE_CHECKING`` blocks)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # ``from pkg import sub`` imports the submodule when there is one
            names = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        found = set()
        for n in names:
            if n == "handpose" or n.startswith("handpose."):
                target = _resolve(n)
                if target is not None and target != module:
                    found.add(target)
        out.extend((t, node.lineno) for t in sorted(found))
    return out


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def allowed(src: str, dst: str) -> bool:
    if src == dst or dst in BASE:
        return True
    if src in BASE:
        return dst in BASE and BASE.index(dst) < BASE.index(src) or dst == "errors"
    if src == "metrics":
        return dst in METRICS_MAY_IMPORT
    if dst == "metrics":
        return ORDER.index(src) > ORDER.index("handmodel")
    return ORDER.index(dst) < ORDER.index(src)


def test_every_package_has_a_place():
    packages = {package_of(m) for m in MODULES}
    assert packages <= set(ORDER) | set(BASE), packages - set(ORDER) - set(BASE)


def test_packages_import_only_downward():
    bad = []
    for module in MODULES:
        src = package_of(module)
        for target, line in imports_of(module):
            dst = package_of(target)
            if not allowed(src, dst) and (module, target) not in ALLOWED:
                bad.append(
                    f"{MODULES[module].relative_to(PACKAGE.parent)}:{line} {src} → {dst} ({target})"
                )
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_allowed_exceptions_are_still_needed():
    used = {(m, t) for m in MODULES for t, _ in imports_of(m)}
    stale = [k for k in ALLOWED if k not in used]
    assert not stale, f"ALLOWED lists imports that no longer exist: {stale}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_no_import_circles():
    graph = {m: {t for t, _ in imports_of(m)} for m in MODULES}
    assert not _cycles(graph)


def test_the_checks_catch_what_they_should():
    """The rules and the circle finder on hand-made cases (so the tests above cannot pass
    vacuously)."""
    assert allowed("inference", "training") and not allowed("training", "inference")
    assert allowed("render", "metrics") and not allowed("handmodel", "metrics")
    assert not allowed("metrics", "training") and allowed("metrics", "geometry")
    assert allowed("simulators", "errors") and not allowed("simulators", "datasets")
    assert allowed("simulators", "formats") and allowed("datasets", "formats")
    assert not allowed("formats", "simulators") and not allowed("formats", "datasets")
    assert not allowed("utils", "geometry") and allowed("cli", "utils")
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    # the parser sees function-level and relative imports
    found = dict(imports_of("handpose.cli.export"))
    assert "handpose.inference.image_onnx" in found  # imported inside a function
