"""`benchmarks/small_budget_recipe.py`: variants in phases, and runs of another pipeline file
never mixed into a new ablation."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.helpers import load_script, tiny_pretraining_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "benchmarks", "small_budget_recipe.py")


def _pipeline(tmp_path) -> str:
    config = tiny_pretraining_config(tmp_path)
    config["model"]["max_sequence_length"] = 64  # The phases use 32 and 64 tokens.
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _run(tmp_path, config: str, *variants: str, out=None):
    return subprocess.run(
        [sys.executable, SCRIPT, "--config", config, "--variants", *variants, "--seeds", "0",
         "--set", "train.steps=2", "--set", "train.warmup_steps=1",
         "--set", "train.steps_per_epoch=2", "--work", str(tmp_path / "work"),
         "--out", str(out or tmp_path / "out.json")],
        cwd=REPO, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def test_every_phased_variant_continues_its_previous_phase():
    recipe = load_script(SCRIPT, "small_budget_recipe")
    for variant, phases in recipe.PHASES.items():
        assert variant in recipe.VARIANTS and len(phases) >= 2
        assert not any(o.startswith("model.pretrained=") for o in sum(phases, []))  # Set per run.


@pytest.mark.large
def test_a_phased_variant_trains_each_phase_and_adds_their_steps(tmp_path):
    process = _run(tmp_path, _pipeline(tmp_path), "short_early")
    assert process.returncode == 0, process.stderr[-2000:]
    result = json.loads((tmp_path / "out.json").read_text())
    runs = {r["variant"]: r for r in result["runs"]}
    assert runs["baseline"]["steps_run"] == 2
    assert runs["short_early"]["steps_run"] == 4  # Two phases of 2 steps.
    assert "short_early" in result["summary"] and result["config_sha256"]
    assert not os.listdir(tmp_path / "work" / "runs")  # Each phase's run was cleaned up.


def test_runs_of_another_pipeline_file_are_not_reused(tmp_path):
    config = _pipeline(tmp_path)
    out = tmp_path / "old.json"
    extra = ["train.steps=2", "train.warmup_steps=1", "train.steps_per_epoch=2"]  # As _run's.
    out.write_text(json.dumps({"config": config, "config_sha256": "0" * 64, "extra": extra,
                               "runs": [{"variant": "baseline", "seed": 0}]}))
    process = _run(tmp_path, config, "baseline", out=out)
    assert process.returncode != 0
    assert f"{out} holds runs of another pipeline file or overrides" in process.stderr
