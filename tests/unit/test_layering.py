"""The architecture's downward dependencies, checked in the source: the
layers below the CLI never import it (docker's presentation lives in cli/),
and the lowest layers import nothing above them. Shared by every layer:
minictr.errors, ids, clock, fsutil, jsonio, records and explain (--explain's
steps), at the package's top level."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "minictr"
# layer -> packages it must not import
FORBIDDEN = {
    "oci": ("minictr.image", "minictr.runtime", "minictr.network", "minictr.engine", "minictr.build", "minictr.pods",
            "minictr.cli"),
    "state": ("minictr.image", "minictr.runtime", "minictr.network", "minictr.engine", "minictr.build",
              "minictr.pods", "minictr.cli"),
    "image": ("minictr.runtime", "minictr.engine", "minictr.network", "minictr.build", "minictr.pods", "minictr.cli"),
    "runtime": ("minictr.image", "minictr.engine", "minictr.network", "minictr.build", "minictr.pods", "minictr.cli"),
    "network": ("minictr.image", "minictr.runtime", "minictr.engine", "minictr.build", "minictr.pods", "minictr.cli"),
    "engine": ("minictr.build", "minictr.pods", "minictr.cli"),
    "build": ("minictr.pods", "minictr.cli"),   # above the engine, beside the pods and kube layers
    # pod sandboxes and CNI: above the engine, below the CRI server and the kubelet
    "pods": ("minictr.build", "minictr.cri", "minictr.kube", "minictr.cli", "grpc"),
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
