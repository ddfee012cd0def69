"""What a container's shim runs when the container exits:

    python -m minictr.engine.exit_cleanup ROOT CONTAINER_ID

It records the exit and tears down what the start made (Engine.cleanup:
mounts, network, --rm, restart policies). The entry point belongs to the
engine: the shim needs no CLI, and no click, to clean up after a container."""
from __future__ import annotations

import sys

from minictr.engine.containers import Engine


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m minictr.engine.exit_cleanup ROOT CONTAINER_ID\n")
        return 2
    root, container_id = argv
    engine = Engine(root)
    try:
        engine.cleanup(container_id)
    except Exception as e:
        # nobody sees this process's stderr: leave the reason where inspect shows it
        try:
            engine.records.update(container_id, error=f"cleanup: {type(e).__name__}: {e}")
        except Exception:
            pass
        raise
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
