"""Take one engine root's network state off the host: its rules out of the
legacy tables (our chains too once empty) and its bridges. Run by test
teardowns: `python network_teardown.py ROOT`."""
import os
import subprocess
import sys

from minictr.network import Networks
from minictr.state import db, paths


def main(root: str) -> None:
    if not os.path.exists(paths.database(root)):
        return
    conn = db.connect(paths.database(root))
    nets = Networks(root, conn)
    bridges = [n.bridge for n in nets.list()]
    nets.teardown_host_rules()
    for bridge in bridges:
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1])
