"""The package's layers (helpers/__init__.py says what each holds): imports point downwards, and a
module's dependencies on the package are visible at its top."""
import ast
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parents[2] / "helpers"
LAYERS = ("core", "metrics", "serving", "workbook")
# what each layer may import from the package, besides itself
ALLOWED = {
    "core": set(),
    "metrics": {"core", "workbook.plotting"},
    "serving": {"core", "workbook.quiet"},
    "workbook": {"core", "metrics", "lessons"},  # upstream builds earlier lessons' models
    "lessons": {"core", "metrics", "serving", "workbook", "lessons"},
}
# in-function imports kept on purpose (an import cycle): (module, imported module)
LAZY = {("metrics/style.py", "helpers.metrics.style_validation")}


def modules():
    return sorted(p for p in HELPERS.rglob("*.py") if p.name != "__init__.py" and p.parent.name != "__pycache__")


def layer_of(path: Path) -> str:
    parts = path.relative_to(HELPERS).parts
    return parts[0] if len(parts) > 1 else "lessons"


def package_imports(tree: ast.Module):
    """(node, imported helpers module) for every import of the package in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("helpers"):
            names = [node.module] if node.module.count(".") >= 2 else [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                yield node, name


def target_layer(name: str) -> str:
    parts = name.split(".")
    if len(parts) >= 2 and parts[1] in LAYERS:
        return parts[1] if len(parts) == 2 else f"{parts[1]}.{parts[2]}"
    return "lessons"


def test_every_module_is_in_a_layer_folder_or_is_a_lesson_module():
    top = sorted(p.stem for p in HELPERS.glob("*.py") if p.name != "__init__.py")
    lessons = {"sft", "labeling", "preferences", "rewards", "ppo", "online_rl", "dpo", "multi_style", "judge", "drift",
               "multi_objective", "refusals", "constitution", "active_labels", "likert_judge"}
    assert set(top) == lessons | {"style"}  # style: the public alias of helpers.metrics.style
    for stem in lessons:
        doc = ast.get_docstring(ast.parse((HELPERS / f"{stem}.py").read_text(encoding="utf-8"))) or ""
        assert "esson" in doc.split("\n\n")[0], f"helpers/{stem}.py: its docstring should name its lesson"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(HELPERS)))
def test_imports_point_downwards(path):
    layer = layer_of(path)
    for _, name in package_imports(ast.parse(path.read_text(encoding="utf-8"))):
        target = target_layer(name)
        if target.split(".")[0] == layer or target == "lessons" and layer == "lessons":
            continue
        allowed = ALLOWED[layer]
        assert target in allowed or target.split(".")[0] in allowed, \
            f"helpers/{path.relative_to(HELPERS)} ({layer}) imports {name} ({target})"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(HELPERS)))
def test_package_imports_sit_at_the_top_of_the_module(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    rel = str(path.relative_to(HELPERS))
    for node, name in package_imports(tree):
        if (rel, name) in LAZY or (rel, name.rsplit(".", 1)[0]) in LAZY:
            continue
        assert id(node) in top, f"helpers/{rel}:{node.lineno} imports {name} inside a function"
