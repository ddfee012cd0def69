"""In the engine, an import inside a function is the exception: it is for
a module that is measurably heavy for the commands that do not need it
(or that would make a cycle), and the line says so in a comment. Every
other import is at the top, where a reader sees what a module depends on."""
import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "minictr" / "engine"


def test_every_function_level_import_in_the_engine_says_why():
    bare = []
    for path in sorted(ENGINE.glob("*.py")):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines), str(path))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)) and "#" not in lines[inner.lineno - 1]:
                    bare.append(f"{path.name}:{inner.lineno}: {lines[inner.lineno - 1].strip()}")
    assert not bare, "function-level imports without a reason:\n" + "\n".join(sorted(set(bare)))
