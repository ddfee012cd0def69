"""The architecture's downward dependencies, checked in the source: the
layers below the CLI never import it (docker's presentation lives in cli/),
and the lowest layers import nothing above them. Shared by every layer:
minictr.errors, ids, clock, fsutil, jsonio, records and explain (--explain's
steps), at the package's top level. The CRI rooms sit above the engine:
nothing below them imports pods/ or cri/, pods/ never speaks gRPC, and cri/
(the gRPC face) knows neither the CLI nor the kube API."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "minictr"
ABOVE_ENGINE = ("minictr.build", "minictr.pods", "minictr.cri", "minictr.kube", "minictr.cli")
# layer -> packages it must not import
FORBIDDEN = {
    "oci": ("minictr.image", "minictr.runtime", "minictr.network", "minictr.engine", *ABOVE_ENGINE),
    "state": ("minictr.image", "minictr.runtime", "minictr.network", "minictr.engine", *ABOVE_ENGINE),
    "image": ("minictr.runtime", "minictr.engine", "minictr.network", *ABOVE_ENGINE),
    "runtime": ("minictr.image", "minictr.engine", "minictr.network", *ABOVE_ENGINE),
    "network": ("minictr.image", "minictr.runtime", "minictr.engine", *ABOVE_ENGINE),
    "engine": ABOVE_ENGINE,
    # above the engine, beside each other: none imports another's internals
    "build": ("minictr.pods", "minictr.cri", "minictr.kube", "minictr.cli"),
    "pods": ("minictr.build", "minictr.cri", "minictr.kube", "minictr.cli", "grpc", "google.protobuf", "click"),
    "cri": ("minictr.build", "minictr.kube", "minictr.cli", "click"),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer):
    bad = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for line, module in _imports(path):
            if any(module == f or module.startswith(f + ".") for f in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}")
    assert not bad, "\n".join(bad)
