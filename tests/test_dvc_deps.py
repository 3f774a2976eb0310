"""A stage's deps are what it runs: every package module its entry point imports, transitively.

A module missing from a stage's deps lets DVC serve a stale output after that module changes; a
listed module the stage never imports reruns it for nothing. The closure is computed from the
source (every import statement, also inside functions; not those under ``TYPE_CHECKING``).

Two shorthands keep dvc.yaml readable: a listed folder covers every module in it (and must hold
at least one the stage runs: the price is a rerun when a sibling it does not run changes), and
an *inert* package ``__init__.py`` (a docstring and constant assignments, no import, no call:
it runs nothing) need not be listed; the test checks that every such file stays inert.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, run_checked

PACKAGE = "genre_ensemble"
SOURCE = REPO / "src"
MODULE_COMMAND = f"python -m {PACKAGE}."


def module_file(name: str, source: Path = SOURCE) -> Path | None:
    """The file that defines module ``name`` (a ``.py`` file or a package's ``__init__.py``)."""
    base = source.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(path: Path, name: str, source: Path = SOURCE) -> set[str]:
    """Package modules that the module ``name`` (in ``path``) imports when it runs."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # submodules
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {
        module
        for module in found
        if module.split(".")[0] == PACKAGE and module_file(module, source)
    }


def import_closure(entry: str, source: Path = SOURCE) -> set[Path]:
    """Files of every package module that running ``python -m entry`` executes."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages run
        todo.extend(imported_modules(module_file(name, source), name, source))
    return {module_file(name, source) for name in seen}


def stages() -> dict[str, dict]:
    """dvc.yaml's stages with ``foreach`` expanded (``name@item``), as DVC expands them: over a
    list, or over a mapping of params.yaml (``foreach: ${pretrained}``, ``${key}`` in ``do``)."""
    expanded = {}
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for name, stage in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].items():
        if "foreach" not in stage:
            expanded[name] = stage
            continue
        items = stage["foreach"]
        if isinstance(items, str):  # ${a.b}: a mapping (or list) in params.yaml
            items = params
            for part in stage["foreach"].strip("${}").split("."):
                items = items[part]
        pairs = items.items() if isinstance(items, dict) else ((item, item) for item in items)
        for key, item in pairs:
            text = yaml.safe_dump(stage["do"]).replace("${key}", str(key))
            text = text.replace("${item}", str(item))
            expanded[f"{name}@{key}"] = yaml.safe_load(text)
    return expanded


def entry_module(stage: dict) -> str:
    command = stage["cmd"]
    assert command.startswith(MODULE_COMMAND), f"not a package entry point: {command}"
    return command.removeprefix("python -m ").split()[0]


def is_inert(path: Path) -> bool:
    """A package ``__init__.py`` that runs nothing: only a docstring and constant assignments."""
    if path.name != "__init__.py":
        return False
    for node in ast.parse(path.read_text()).body:
        constant = isinstance(node, ast.Expr | ast.Assign | ast.AnnAssign) and isinstance(
            getattr(node, "value", None), ast.Constant)
        future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if not (constant or future):
            return False
    return True


def listed_sources(stage: dict) -> tuple[set[Path], list[Path]]:
    """The package files a stage's deps list, and the folders it lists (each covering every
    module in it)."""
    files: set[Path] = set()
    folders: list[Path] = []
    for dep in stage.get("deps", []):
        path = REPO / dep
        if not dep.startswith("src/"):
            continue
        if path.is_dir():
            folders.append(path)
        else:
            files.add(path)
    return files, folders


STAGES = stages()


def _relative(paths: set[Path]) -> list[str]:
    return sorted(path.relative_to(REPO).as_posix() for path in paths)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_are_exactly_its_import_closure(name):
    stage = STAGES[name]
    closure = import_closure(entry_module(stage))
    files, folders = listed_sources(stage)
    covered = files | {module for folder in folders for module in folder.rglob("*.py")}
    needed = {module for module in closure if not is_inert(module)}
    missing = _relative(needed - covered)
    stale = _relative(files - needed)
    idle = [folder.relative_to(REPO).as_posix() for folder in folders
            if not any(module.is_relative_to(folder) for module in needed)]
    assert not missing, f"{name}: add to its deps in dvc.yaml the modules it runs: {missing}"
    assert not stale, f"{name}: remove from its deps the modules it never imports: {stale}"
    assert not idle, f"{name}: remove from its deps the folders it runs nothing of: {idle}"


def test_unlisted_package_inits_run_nothing():
    """Every package ``__init__.py`` a stage runs but dvc.yaml does not list is inert."""
    for name, stage in STAGES.items():
        files, folders = listed_sources(stage)
        for module in import_closure(entry_module(stage)):
            listed = module in files or any(module.is_relative_to(f) for f in folders)
            if module.name == "__init__.py" and not listed:
                assert is_inert(module), f"{name}: {module} runs code; list it in its deps"


def test_the_cnn_stages_train_every_representation():
    """dvc.yaml's train stages and the images stage's outputs name the CNN kind's members."""
    from genre_ensemble.members.cnn.kind import REPRESENTATIONS

    trained = sorted(name.split("@")[1] for name in STAGES if name.startswith("train@"))
    rendered = sorted(out.rsplit("/", 1)[1] for out in STAGES["images"]["outs"])
    assert trained == rendered == sorted(REPRESENTATIONS)


def test_the_closure_follows_imports_inside_functions_and_skips_type_checking(tmp_path):
    package = tmp_path / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from genre_ensemble import b\n")
    (package / "b.py").write_text("from . import c\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from genre_ensemble import d\n"
    )
    (package / "d.py").write_text("")
    closure = import_closure(f"{PACKAGE}.a", source=tmp_path)
    assert {path.name for path in closure} == {"__init__.py", "a.py", "b.py", "c.py"}


@pytest.mark.slow
def test_editing_a_shared_module_marks_exactly_the_stages_that_import_it(tiny_workspace):
    root, env = tiny_workspace
    edited = root / "src" / PACKAGE / "corpus" / "windows.py"
    original = edited.read_text()
    edited.write_text(original + "\n# an edit that changes the file's hash\n")
    try:
        status = json.loads(run_checked(["dvc", "status", "--json"], root, env).stdout)
    finally:
        edited.write_text(original)
    importers = {
        name for name, stage in STAGES.items()
        if REPO / "src" / PACKAGE / "corpus" / "windows.py" in import_closure(entry_module(stage))
    }
    assert {"images", "features"} <= importers
    assert set(status) == importers
