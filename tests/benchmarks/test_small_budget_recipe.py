"""`benchmarks/small_budget_recipe.py`: runs in phases, and runs of another pipeline file never
mixed into a new ablation."""

import itertools
import json
import os
import subprocess
import sys

import pytest
import yaml

from benchmarks import harness
from tests.helpers import load_script, tiny_pretraining_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "benchmarks", "small_budget_recipe.py")


def _pipeline(tmp_path) -> str:
    config = tiny_pretraining_config(tmp_path)
    config["model"]["max_sequence_length"] = 64  # The phases use 32 and 64 tokens.
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


STEPS = ["train.steps=2", "train.warmup_steps=1", "train.steps_per_epoch=2"]


def _run(tmp_path, config: str, *variants: str, out=None, extra=STEPS, flags=()):
    command = [sys.executable, SCRIPT, "--config", config, "--variants", *variants, "--seeds",
               "0", "--work", str(tmp_path / "work"), "--out", str(out or tmp_path / "out.json"),
               *flags]
    for override in extra:
        command += ["--set", override]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def test_variants_that_change_the_steps_run_one_phase():
    recipe = load_script(SCRIPT, "small_budget_recipe")
    for variant, (_, overrides) in recipe.VARIANTS.items():
        if any(o.startswith("train.steps=") for o in overrides) and variant != "short_early":
            assert recipe.ONE_PHASE in overrides, variant


def test_each_requested_variant_runs_with_the_one_it_is_compared_with():
    recipe = load_script(SCRIPT, "small_budget_recipe")
    # Equal time: the time-budget reference, not the (longer) equal-steps baseline.
    assert recipe.with_references(["narrow_minutes_3.5", "wide_minutes_3.5"]) == [
        "minutes_3.5", "narrow_minutes_3.5", "wide_minutes_3.5"]
    assert recipe.with_references(["lamb_1e-2"]) == ["baseline", "lamb_1e-2"]
    assert recipe.with_references(["minutes_3.5"]) == ["baseline", "minutes_3.5"]
    assert recipe.with_references(["baseline"]) == ["baseline"]
    every = recipe.with_references(list(recipe.VARIANTS))
    assert sorted(every) == sorted(recipe.VARIANTS) and len(every) == len(set(every))
    for variant in recipe.VARIANTS:  # Every reference runs before the runs compared with it.
        chosen = recipe.with_references([variant])
        versus = recipe.reference(variant)
        assert versus is None or chosen.index(versus) < chosen.index(variant)


def test_the_step_schedule_of_the_same_minutes_takes_its_steps_from_that_seed():
    recipe = load_script(SCRIPT, "small_budget_recipe")
    from albert_keras.pipeline import load_pipeline

    variant, config = "step_schedule_minutes_3.5", "pipelines/albert_tiny.yaml"
    assert recipe.reference(variant) == recipe.EQUAL_TIME
    # Every variant's overrides, the reference's too; the matched ones cannot be undone by them.
    extra = ["train.warmup_steps=250", "train.steps_per_epoch=50"]
    timed = load_pipeline(os.path.join(REPO, config),
                          [*recipe.VARIANTS[recipe.EQUAL_TIME][1], *extra]).train
    assert timed.warmup_steps / timed.steps == 0.05
    runs = [{"variant": recipe.EQUAL_TIME, "seed": seed, "steps_run": steps}
            for seed, steps in ((0, 230), (1, 237))]
    for seed, steps in ((0, 230), (1, 237)):
        overrides = recipe.overrides_for(variant, seed, runs, config, extra)
        train = load_pipeline(os.path.join(REPO, config), overrides).train
        assert (train.steps, train.steps_per_epoch, train.max_minutes) == (steps, steps, None)
        assert train.phases == ()
        # The warmup is the same share of the steps as in the time-fitted schedule.
        share = timed.warmup_steps / timed.steps
        assert train.warmup_steps == max(1, round(steps * share))
        assert abs(train.warmup_steps / steps - share) <= 0.5 / steps
    with pytest.raises(RuntimeError, match="minutes_3.5's run at that seed"):
        recipe.overrides_for(variant, 2, runs, config, [])
    assert recipe.overrides_for("lamb_1e-2", 0, [], config, ["x=1"]) == [
        "train.learning_rate=0.01", "x=1"]


@pytest.mark.large
def test_a_run_in_phases_counts_every_phase_and_leaves_nothing(tmp_path):
    phases = ["train.steps=4", "train.steps_per_epoch=2", "train.warmup_steps=1",
              "train.phases=[{steps: 2, max_sequence_length: 32}, {steps: 2}]"]
    process = _run(tmp_path, _pipeline(tmp_path), "baseline", extra=phases)
    assert process.returncode == 0, process.stderr[-2000:]
    document = json.loads((tmp_path / "out.json").read_text())
    harness.check_result(document)
    result = document["details"]
    assert [(r["variant"], r["steps_run"]) for r in result["runs"]] == [("baseline", 4)]
    assert "baseline" in result["summary"] and result["config_sha256"]
    accuracy = document["figures"]["baseline held-out MLM accuracy"]
    assert accuracy["rounds"] == [result["runs"][0]["mlm_accuracy"]]
    assert document["fingerprint"]["matmul_limits"]  # The last write measures them.
    # Each phase's run and records were cleaned up.
    assert not os.listdir(tmp_path / "work" / "runs")
    assert not os.listdir(tmp_path / "work" / "records")


def test_runs_of_another_pipeline_file_are_not_reused(tmp_path):
    config = _pipeline(tmp_path)
    out = tmp_path / "old.json"
    out.write_text(json.dumps({"config": config, "config_sha256": "0" * 64, "extra": STEPS,
                               "runs": [{"variant": "baseline", "seed": 0}]}))
    process = _run(tmp_path, config, "baseline", out=out)
    assert process.returncode != 0
    assert f"{out} holds runs of another pipeline file, settings or overrides" in process.stderr


@pytest.mark.large
def test_downstream_scores_each_run_against_its_random_init_twin(tmp_path):
    tiny = ["compare.downstream_seeds=[0, 1]", "finetune.learning_rates=[]",
            "finetune.epochs=1", "compare.downstream_examples_per_label=20",
            "compare.downstream_workers=1", "finetune.batch_size=8",
            "finetune.max_sequence_length=32"]
    process = _run(tmp_path, _pipeline(tmp_path), "baseline",
                   flags=["--downstream", *[f"--compare-set={o}" for o in tiny]])
    assert process.returncode == 0, process.stderr[-3000:]
    document = json.loads((tmp_path / "out.json").read_text())
    result = document["details"]
    (run,) = result["runs"]
    gain = run["downstream"]["gain"]
    assert len(gain["values"]) == 2 and gain["verdict"] == "cannot conclude"  # 2 seeds
    assert gain["values"] == pytest.approx([p - r for p, r in zip(
        run["downstream"]["pretrained"]["values"], run["downstream"]["random_init"]["values"])])
    assert result["summary"]["baseline"]["downstream_gain"]["runs"] == 1
    assert document["gains"]["baseline downstream gain of pretraining"]["values"] == [
        gain["median"]]
    # Each run's fine-tuning folders are removed; the task's data stays for the next run.
    assert set(os.listdir(tmp_path / "work" / "downstream")) <= {"downstream_data"}


def test_bad_downstream_settings_fail_before_any_run(tmp_path):
    process = _run(tmp_path, _pipeline(tmp_path), "baseline", flags=[
        "--downstream", "--compare-set=compare.downstream_examples_per_label=4"])
    assert process.returncode != 0 and "examples_per_label=4" in process.stderr
    assert not os.path.exists(tmp_path / "work" / "runs")


def test_a_variant_that_restates_the_pipeline_file_fails_before_any_run(tmp_path):
    config = _pipeline(tmp_path)
    process = _run(tmp_path, config, "lamb_1e-2",
                   extra=[*STEPS, "train.learning_rate=0.01"])  # Every variant's: lamb's too.
    assert process.returncode != 0
    assert f"On {config}, these variants change nothing: lamb_1e-2" in process.stderr
    assert "trains as baseline" in process.stderr
    assert not os.path.exists(tmp_path / "work")  # No records, no run.


def test_every_variant_of_the_registered_ablation_changes_its_pipeline_file():
    """A variant written against an earlier default may restate today's (`warmup_100` did,
    once the default warmed up over 100 steps): its runs would repeat its reference's."""
    from benchmarks import run_all

    recipe = load_script(SCRIPT, "small_budget_recipe")
    entries = [b for b in run_all.BENCHMARKS if (b.script or b.name) == "small_budget_recipe"]
    assert entries
    for entry in entries:
        arguments = entry.full
        config = (arguments[arguments.index("--config") + 1] if "--config" in arguments
                  else "pipelines/albert_tiny.yaml")
        variants = list(itertools.takewhile(lambda a: not a.startswith("--"),
                                            arguments[arguments.index("--variants") + 1:]))
        assert variants and set(variants) <= set(recipe.VARIANTS), entry.name
        recipe.check_variants_change_something(recipe.with_references(variants), config, [])
    with pytest.raises(SystemExit, match=r"warmup_100 \(overrides .*\) trains as baseline"):
        recipe.check_variants_change_something(["baseline", "warmup_100"],
                                               "pipelines/albert_tiny.yaml", [])


def _store(variants_seeds, config="c.yaml", **scores):
    """A plain store of runs, as the script kept them before it wrote harness documents."""
    runs = [{"variant": v, "seed": s, "precision": "float32", "steps_run": 400,
             "train_seconds": 100.0, "mlm_loss": 6.1 - 0.01 * (v != "baseline") - 0.001 * s,
             "mlm_accuracy": 0.095 + 0.01 * (v != "baseline") + 0.001 * s,
             "pair_accuracy": 0.56 + 0.002 * s * (-1) ** (v == "baseline")}
            for v, s in variants_seeds]
    return {"config": config, "config_sha256": "a" * 64, "extra": [], "runs": runs}


def test_the_ablation_is_a_harness_document_with_gains_against_each_reference(monkeypatch):
    recipe = load_script(SCRIPT, "small_budget_recipe")
    monkeypatch.setattr(harness, "matmul_limits", lambda: {})
    store = _store([(v, s) for s in range(5) for v in ("baseline", "lamb_1e-2")])
    result = recipe.benchmark_result(store, ["baseline", "lamb_1e-2"])
    document = result.to_dict()
    harness.check_result(document)
    assert document["rounds"] == 5 and document["settings"]["values_over"] == "pretraining seeds"
    assert document["figures"]["lamb_1e-2 held-out MLM loss"]["better"] == "lower"
    assert document["figures"]["baseline held-out MLM accuracy"]["rounds"] == pytest.approx(
        [0.095 + 0.001 * s for s in range(5)])
    # Better by 0.01 at every seed: a gain on accuracy and on loss (lower loss is the gain).
    for metric in ("MLM accuracy", "MLM loss"):
        gain = document["gains"][f"lamb_1e-2 vs baseline: {metric}"]
        assert gain["values"] == pytest.approx([0.01] * 5) and gain["verdict"] == "gain"
    # The pair task: better at seeds 1-4 only by growing amounts, worse at none: a gain too.
    pair = document["gains"]["lamb_1e-2 vs baseline: pair-task accuracy"]
    assert pair["values"] == pytest.approx([0.004 * s for s in range(5)])
    assert pair["verdict"] == "gain" and pair["positive_seeds"] == 4
    assert not any(name.startswith("baseline vs") for name in document["gains"])
    assert document["details"]["runs"] == store["runs"]


def test_a_plain_store_of_the_earlier_script_is_resumed_from_its_harness_document(tmp_path,
                                                                                  monkeypatch):
    recipe = load_script(SCRIPT, "small_budget_recipe")
    monkeypatch.setattr(harness, "matmul_limits", lambda: {})
    plain = _store([("baseline", 0), ("baseline", 1)])
    path = tmp_path / "out.json"
    path.write_text(json.dumps(plain))
    # The plain store knows the file's bytes only: it matches on them.
    digests = {"config_sha256": "a" * 64, "config_settings_sha256": "c" * 64}
    store = recipe.load_store(str(path), "c.yaml", digests, [])
    assert store["runs"] == plain["runs"]
    recipe.benchmark_result(store, ["baseline"]).write(str(path), matmul=False)
    # The document records both digests; from then on the settings' decides.
    assert recipe.load_store(str(path), "c.yaml", digests, [])["runs"] == plain["runs"]
    edited = {"config_sha256": "b" * 64, "config_settings_sha256": "c" * 64}
    assert recipe.load_store(str(path), "c.yaml", edited, [])["runs"] == plain["runs"]
    assert recipe.load_store(str(tmp_path / "none.json"), "c.yaml", digests, [])["runs"] == []
    with pytest.raises(SystemExit, match="holds runs of another pipeline file"):
        recipe.load_store(str(path), "c.yaml", {"config_sha256": "a" * 64,
                                                "config_settings_sha256": "d" * 64}, [])
    with pytest.raises(SystemExit, match="holds runs of another pipeline file"):
        recipe.load_store(str(path), "c.yaml", digests, ["train.steps=5"])


def test_a_comment_leaves_the_settings_digest_alone_and_a_setting_changes_it(tmp_path):
    recipe = load_script(SCRIPT, "small_budget_recipe")
    path = tmp_path / "p.yaml"
    path.write_text("train:\n  steps: 10   # ten\n  seed: 0\n")
    first = recipe.config_digests(str(path))
    path.write_text("# a note\ntrain:\n  seed: 0\n  steps: 10   # still ten\n")
    commented = recipe.config_digests(str(path))
    assert commented["config_settings_sha256"] == first["config_settings_sha256"]
    assert commented["config_sha256"] != first["config_sha256"]
    path.write_text("train:\n  steps: 11\n  seed: 0\n")
    assert recipe.config_digests(str(path))["config_settings_sha256"] != \
        first["config_settings_sha256"]


def test_the_document_is_named_after_its_file(monkeypatch):
    recipe = load_script(SCRIPT, "small_budget_recipe")
    monkeypatch.setattr(harness, "matmul_limits", lambda: {})
    store = _store([("baseline", s) for s in range(3)])
    document = recipe.benchmark_result(store, ["baseline"], "small_budget_recipe_schedule")
    assert document.to_dict()["benchmark"] == "small_budget_recipe_schedule"
