"""`constraints.txt` pins, within `setup.py`'s ranges, every package the install commands take."""

from __future__ import annotations

import os
import re

import pytest
from packaging.requirements import Requirement

from tests.helpers import load_script

REPO = os.path.join(os.path.dirname(__file__), "..")


def _script():
    return load_script(os.path.join(REPO, ".ci", "latest_releases.py"), "latest_releases")


def _setup_requirements(monkeypatch) -> list[Requirement]:
    """The requirements of `setup.py`: runtime ones and every extra's (setup() captured)."""
    import setuptools

    captured = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: captured.update(kwargs))
    monkeypatch.chdir(REPO)
    exec(compile(open("setup.py", encoding="utf-8").read(), "setup.py", "exec"), {})
    extras = captured["extras_require"]
    assert set(extras) == {"test", "export", "beam"}
    names = captured["install_requires"] + [name for group in extras.values() for name in group]
    return [Requirement(name) for name in names]


def test_every_requirement_is_pinned_inside_its_range(monkeypatch):
    script = _script()
    pins = script.read_pins(open(os.path.join(REPO, "constraints.txt"), encoding="utf-8").read())
    for requirement in _setup_requirements(monkeypatch):
        name = script.normalize(requirement.name)
        assert name in pins, f"constraints.txt has no pin for {requirement}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]} outside setup.py's {requirement}")


def test_constraints_lines_are_exact_pins():
    lines = [line.strip() for line in
             open(os.path.join(REPO, "constraints.txt"), encoding="utf-8").read().splitlines()]
    pins = [line for line in lines if line and not line.startswith("#")]
    assert pins == sorted(pins, key=lambda line: line.split("==")[0]) and len(pins) > 50
    for line in pins:
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*==[0-9][0-9A-Za-z.]*", line), line


def test_constraints_text_from_a_freeze():
    script = _script()
    freeze = "Torch==2.13.0+cpu\nkeras_hub==0.32.0\nalbert-keras==0.1.0\n# comment\nsix==1.17.0\n"
    text = script.constraints_text(freeze, "cmd")
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        "keras-hub==0.32.0", "six==1.17.0", "torch==2.13.0"]
    assert script.drift({"six": "1.16.0", "gone": "1"}, script.read_pins(freeze)) == [
        "  gone: 1 -> -", "  keras-hub: - -> 0.32.0", "  six: 1.16.0 -> 1.17.0",
        "  torch: - -> 2.13.0"]


def test_refresh_refuses_a_partial_suite():
    with pytest.raises(SystemExit):
        _script().main(["refresh", "tests/tokenizers"])
