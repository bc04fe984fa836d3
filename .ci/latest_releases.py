#!/usr/bin/env python3
"""Tests the newest releases that `setup.py` allows, and refreshes `constraints.txt` from them.

`constraints.txt` pins every package that the suite passed with (runtime dependencies and
every extra); the README's install commands and `.ci/run` install through it, so a fresh
machine gets what was tested. This script looks past it, on purpose:

    python3 .ci/latest_releases.py check     # newest releases, fast tests (-m "not large")
    python3 .ci/latest_releases.py refresh   # newest releases, whole suite; on a pass,
                                             # rewrites constraints.txt with their versions

Both install `-e '.[test,export,beam]'` without the constraints into a scratch virtual
environment (`--venv`, default `.venv-latest`, made anew) and print which versions differ
from `constraints.txt`. `check` changes nothing; its exit status is the tests'. `refresh`
writes the file only when the whole suite passed; review the diff and commit it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONSTRAINTS = os.path.join(REPO, "constraints.txt")
EXTRAS = "test,export,beam"
OWN_NAME = "albert-keras"


def read_pins(text: str) -> dict[str, str]:
    """`{normalized name: version}` of the `name==version` lines of a constraints file."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[normalize(name)] = version.strip()
    return pins


def normalize(name: str) -> str:
    """A package name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower().strip()


def constraints_text(freeze: str, command: str) -> str:
    """The constraints file from `pip freeze` output: sorted pins, local labels dropped.

    `torch==2.13.0+cpu` becomes `torch==2.13.0`: a pin without a local label matches every
    build of that release (PEP 440), the CPU wheel here and the CUDA one elsewhere.
    """
    pins = {}
    for name, version in read_pins(freeze).items():
        if name != OWN_NAME:
            pins[name] = version.split("+", 1)[0]
    header = [
        "# The exact versions the whole test suite passed with (runtime dependencies and the",
        f"# {EXTRAS} extras), on Python {platform.python_version()}, "
        f"{datetime.date.today().isoformat()}.",
        "# Used by the README's install commands and .ci/run: pip install -c constraints.txt ...",
        f"# Written by `{command}`: refresh it on purpose, as a whole.",
    ]
    return "\n".join(header + [f"{name}=={pins[name]}" for name in sorted(pins)]) + "\n"


def drift(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Lines naming each package whose version differs (or that appeared or went)."""
    lines = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name, "-"), new.get(name, "-").split("+", 1)[0]
        if name != OWN_NAME and before != after:
            lines.append(f"  {name}: {before} -> {after}")
    return lines


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, cwd=REPO, **kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["check", "refresh"])
    parser.add_argument("--venv", default=os.path.join(REPO, ".venv-latest"),
                        help="scratch virtual environment, made anew (default: .venv-latest)")
    parser.add_argument("pytest_args", nargs="*",
                        help="more pytest arguments (after --), e.g. -- -x tests/pretraining_data")
    args = parser.parse_args(argv)
    if args.mode == "refresh" and args.pytest_args:
        parser.error("refresh runs the whole suite as the README does; pytest arguments are "
                     f"for check. Received: {args.pytest_args}")

    shutil.rmtree(args.venv, ignore_errors=True)
    _run([sys.executable, "-m", "venv", args.venv], check=True)
    python = os.path.join(args.venv, "bin", "python")
    _run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    _run([python, "-m", "pip", "install", "--quiet", "-e", f".[{EXTRAS}]"], check=True)
    freeze = _run([python, "-m", "pip", "freeze", "--exclude-editable"], check=True,
                  capture_output=True, text=True).stdout

    old = read_pins(open(CONSTRAINTS, encoding="utf-8").read()) if os.path.exists(
        CONSTRAINTS) else {}
    changes = drift(old, read_pins(freeze))
    print(f"Newest allowed releases against constraints.txt: {len(changes)} differ")
    print("\n".join(changes))

    selection = ["-m", "not large"] if args.mode == "check" else []
    tests = _run([python, "-m", "pytest", "tests", *selection, *args.pytest_args])
    if args.mode == "refresh":
        if tests.returncode != 0:
            print("The suite failed on the newest releases: constraints.txt is unchanged.")
        else:
            with open(CONSTRAINTS, "w", encoding="utf-8") as f:
                f.write(constraints_text(freeze, "python3 .ci/latest_releases.py refresh"))
            print(f"Wrote {CONSTRAINTS} ({len(read_pins(freeze)) - 1} pins); review and commit.")
    return tests.returncode


if __name__ == "__main__":
    sys.exit(main())
