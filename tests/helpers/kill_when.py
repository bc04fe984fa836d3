"""Runs an `albert-keras` command that SIGKILLs itself the moment a given path appears.

The kill is driven from the file system, not from the code's structure: a path that the job
creates (by `open`, `mkdir`/`makedirs`, `rename`/`replace`, `symlink`) and that matches one of
the `fnmatch` patterns kills the process right after it appears, so a test hits its moment
every time, whatever writes it. Patterns use `*` across `/`. Processes it spawns with
`multiprocessing` (compare's arms) re-import this file as `__mp_main__` and are watched too.

    python tests/helpers/kill_when.py 'PATTERN[|PATTERN...]' pretrain --config x.yaml
"""

import builtins
import fnmatch
import io
import os
import signal
import sys


def install(patterns: list[str]) -> None:
    """Patches the file-creating calls of this process to SIGKILL it after a matching path
    appears."""

    def check(path):
        try:
            path = os.path.abspath(os.fsdecode(path))
        except TypeError:
            return  # A file descriptor.
        if any(fnmatch.fnmatch(path, pattern) for pattern in patterns):
            os.kill(os.getpid(), signal.SIGKILL)

    def wrap_open(original):
        def opened(file, mode="r", *args, **kwargs):
            result = original(file, mode, *args, **kwargs)
            if any(flag in mode for flag in "wax+"):
                check(file)
            return result
        return opened

    def wrap_created(original, argument=0):
        def created(*args, **kwargs):
            result = original(*args, **kwargs)
            check(args[argument])
            return result
        return created

    builtins.open = io.open = wrap_open(io.open)
    os.mkdir = wrap_created(os.mkdir)
    os.replace = wrap_created(os.replace, 1)
    os.rename = wrap_created(os.rename, 1)
    os.symlink = wrap_created(os.symlink, 1)


PATTERNS = "ALBERT_KERAS_KILL_WHEN"  # How a spawned child learns its parent's patterns.

if __name__ == "__mp_main__" and os.environ.get(PATTERNS):
    install(os.environ[PATTERNS].split("|"))

if __name__ == "__main__":
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
    os.environ[PATTERNS] = sys.argv[1]
    install(sys.argv[1].split("|"))
    from albert_keras.cli import main

    sys.exit(main(sys.argv[2:]))
