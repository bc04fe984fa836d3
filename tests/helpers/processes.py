"""For tests that start processes: free ports, scripts loaded by path, CLI runs killed at a
chosen moment."""

from __future__ import annotations

import os
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Run by path.
KILL_WHEN = os.path.join(REPO, "tests", "helpers", "kill_when.py")


def run_cli(args: list[str], kill_when: list[str] | None = None) -> subprocess.CompletedProcess:
    """`albert-keras ARGS` in a fresh process, started from the repository root, that SIGKILLs
    itself when a path matching one of the `kill_when` patterns appears (`kill_when.py`)."""
    command = [sys.executable, KILL_WHEN, "|".join(kill_when or ["/nothing/matches"]), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def free_ports(count: int) -> list[int]:
    """`count` localhost ports free right now (for the workers of a local cluster)."""
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def load_script(path: str, name: str):
    """A script of the repository (a benchmark, a CI tool) imported as a module by its path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
