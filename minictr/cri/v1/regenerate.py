"""Regenerates the Python code of the CRI v1 API (api_pb2.py, its .pyi and
api_pb2_grpc.py, all committed beside api.proto) with grpcio-tools:

    .venv/bin/python -m minictr.cri.v1.regenerate [OUT_ROOT]

The code is committed, not built at install, so an install needs only the
grpcio and protobuf runtimes; tests/unit/test_cri_api.py regenerates it into
a temporary root and fails when the committed copy is stale. The generated
modules refuse older runtimes than the generator's, which is why
pyproject's grpcio/protobuf floors follow the grpcio-tools used here."""
from __future__ import annotations

import os
import sys

PROTO = "minictr/cri/v1/api.proto"
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
OUTPUTS = ("api_pb2.py", "api_pb2.pyi", "api_pb2_grpc.py")


def generate(out_root: str = SOURCE_ROOT) -> list[str]:
    """Runs protoc (bundled in grpc_tools) from the source root, so the
    generated imports name the package (`from minictr.cri.v1 import api_pb2`)."""
    from grpc_tools import protoc
    os.makedirs(os.path.join(out_root, os.path.dirname(PROTO)), exist_ok=True)
    args = ["protoc", f"-I{SOURCE_ROOT}", f"-I{os.path.dirname(protoc.__file__)}/_proto",
            f"--python_out={out_root}", f"--pyi_out={out_root}", f"--grpc_python_out={out_root}",
            os.path.join(SOURCE_ROOT, PROTO)]
    if protoc.main(args) != 0:
        raise SystemExit(f"regenerate: protoc failed on {PROTO}")
    return [os.path.join(out_root, os.path.dirname(PROTO), name) for name in OUTPUTS]


if __name__ == "__main__":
    for path in generate(*sys.argv[1:2]):
        print(path)
