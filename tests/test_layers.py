"""The model package's layers import in one direction: report -> core -> schema -> (errors, i18n)."""

import ast

import pytest

from tests.helpers import ROOT

LAYERS = ("model.errors", "model.i18n", "model.schema", "model.core", "model.report")
RANK = {"model.errors": 0, "model.i18n": 0, "model.schema": 1, "model.core": 2, "model.report": 3}


def layer_of(module: str) -> str | None:
    return next((layer for layer in LAYERS if module == layer or module.startswith(layer + ".")), None)


def model_imports(path, prefixes: tuple[str, ...] = ("model",)) -> set[str]:
    """Every module under `prefixes` a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in prefixes:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] in prefixes}
    return found


LAYERED_FILES = [p for p in sorted((ROOT / "model").rglob("*.py")) if p.name not in ("__main__.py",)]


def test_every_model_module_sits_in_a_layer():
    modules = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in LAYERED_FILES]
    homeless = [m for m in modules if m != "model.__init__" and layer_of(m.removesuffix(".__init__")) is None]
    assert homeless == []


@pytest.mark.parametrize("path", LAYERED_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_imports_only_its_own_layer_or_lower_ones(path):
    own = layer_of(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"))
    if own is None:
        return  # model/__init__.py: the package's docstring only
    upward = [m for m in model_imports(path) if (layer_of(m) is None) or RANK[layer_of(m)] > RANK[own]]
    assert upward == [], f"{path.name} ({own}) imports a higher layer"


@pytest.mark.parametrize(
    "package, never", [("model", ("training", "benchmarks", "pages")), ("training", ("benchmarks",))]
)
def test_lower_packages_never_import_higher_ones(package, never):
    """The app and the CLI need only `model`; training builds on it; benchmarks build on both."""
    found = {
        str(path.relative_to(ROOT)): imported
        for path in (ROOT / package).rglob("*.py")
        for imported in model_imports(path, prefixes=never)
    }
    assert found == {}


@pytest.mark.parametrize("fmt", ["limits", "series", "volume"])
def test_the_format_readers_import_the_limits_never_the_dispatcher(fmt):
    """decode dispatches to the formats; they import only the limits and sniffers, so there is no circle."""
    imports = model_imports(ROOT / "model" / "core" / f"{fmt}.py")
    assert "model.core.decode" not in imports
    assert {m for m in imports if m.startswith("model.core.")} <= {"model.core.limits"}


TRAINING_PARTS = {"training.data": 0, "training.fitting": 1, "training.evaluation": 2}
TRAINING_FILES = [p for p in sorted((ROOT / "training").rglob("*.py")) if p.parent != ROOT / "training"]


def part_of(module: str) -> str | None:
    return next((part for part in TRAINING_PARTS if module == part or module.startswith(part + ".")), None)


def test_every_training_module_sits_in_a_part():
    """Only the CLI and the package's docstring sit at training/'s top; every other module is in one of its parts."""
    top = sorted(p.name for p in (ROOT / "training").glob("*.py"))
    assert top == ["__init__.py", "__main__.py"]
    assert all(part_of(".".join(p.relative_to(ROOT).with_suffix("").parts)) for p in TRAINING_FILES)


@pytest.mark.parametrize("path", TRAINING_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_training_part_imports_only_itself_or_the_parts_below(path):
    """evaluation -> fitting -> data: scoring reads the artifact fitting wrote; fitting never reaches for a scorer."""
    own = part_of(".".join(path.relative_to(ROOT).with_suffix("").parts))
    assert own is not None
    imported = model_imports(path, prefixes=("training",))
    upward = [m for m in imported if part_of(m) is None or TRAINING_PARTS[part_of(m)] > TRAINING_PARTS[own]]
    assert upward == [], f"{path.relative_to(ROOT)} ({own}) imports a higher part"
