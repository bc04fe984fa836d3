"""`benchmarks/compare_seeds.py`: `compare`'s scores summarised over pretraining seeds, on
planted reports (the real runs take 20 minutes each)."""

import json
import os
import shutil
import statistics

import numpy as np
import pytest

from tests.helpers import load_script

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
compare_seeds = load_script(os.path.join(REPO, "benchmarks", "compare_seeds.py"), "compare_seeds")

FT_SEEDS = [0, 1, 2, 3, 4]


def _arm(name: str, rng: np.random.Generator) -> dict:
    pretrained = rng.uniform(0.2, 0.5, len(FT_SEEDS)).tolist()
    twin = rng.uniform(0.15, 0.45, len(FT_SEEDS)).tolist()
    gains = [p - t for p, t in zip(pretrained, twin)]
    return {"name": name,
            "final": {"mlm_loss": float(rng.uniform(5, 6)),
                      "mlm_accuracy": float(rng.uniform(0.1, 0.16)),
                      "pair_accuracy": float(rng.uniform(0.5, 0.8))},
            "downstream": {"seeds": FT_SEEDS, "metric": "accuracy", "split": "test",
                           "pretrained": {"values": pretrained},
                           "random_init": {"values": twin},
                           "gain": {"median": statistics.median(gains), "verdict": "gain"}}}


def _plant(tmp_path, seed: int, rng, **changes) -> str:
    report = {"budget": {"steps": 1000, "global_batch_size": 32}, "pair_task": "sop",
              "shared": {"records": f"tf_records/run{seed}", "seed": seed, "corpus": "pydocs",
                         "learning_rate": 0.005},
              "arms": [_arm("bert", rng), _arm("albert", rng)]}
    for key, value in changes.items():
        report[key] = value
    folder = tmp_path / f"run{seed}"
    folder.mkdir()
    (folder / "report.json").write_text(json.dumps(report))
    return str(folder)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_summaries_are_the_medians_over_pretraining_seeds(tmp_path, seed):
    rng = np.random.default_rng(seed)
    folders = [_plant(tmp_path, s, rng) for s in range(5)]
    reports = compare_seeds.load_reports(folders)
    arms = compare_seeds.summarize_arms(reports)
    for index, name in enumerate(["bert", "albert"]):
        runs = [r["arms"][index] for r in reports]
        for score in compare_seeds.SCORES:
            values = [run["final"][score] for run in runs]
            assert arms[name][score]["median"] == pytest.approx(statistics.median(values))
            assert arms[name][score]["min"] == min(values)
        down = arms[name]["downstream"]
        per_seed = [run["downstream"]["gain"]["median"] for run in runs]
        assert down["gain_over_pretraining_seeds"]["values"] == pytest.approx(per_seed)
        assert down["gain_over_pretraining_seeds"]["positive_seeds"] == sum(g > 0 for g in per_seed)
        pooled = [p - t for run in runs for p, t in zip(run["downstream"]["pretrained"]["values"],
                                                       run["downstream"]["random_init"]["values"])]
        assert len(down["gain_pooled"]["values"]) == 25
        assert down["gain_pooled"]["median"] == pytest.approx(statistics.median(pooled))
    table = compare_seeds.markdown(arms)
    assert table.count("\n") == 3 and "| albert | 5 |" in table


def test_verdict_over_pretraining_seeds_needs_four_of_five(tmp_path):
    rng = np.random.default_rng(7)
    folders = [_plant(tmp_path, s, rng) for s in range(5)]
    reports = compare_seeds.load_reports(folders)
    for report, gain in zip(reports, [0.05, 0.02, -0.01, 0.03, -0.02]):
        report["arms"][0]["downstream"]["gain"]["median"] = gain
    verdict = compare_seeds.summarize_arms(reports)["bert"]["downstream"]
    assert verdict["gain_over_pretraining_seeds"]["verdict"] == "no difference"  # 3 of 5
    reports[2]["arms"][0]["downstream"]["gain"]["median"] = 0.01
    verdict = compare_seeds.summarize_arms(reports)["bert"]["downstream"]
    assert verdict["gain_over_pretraining_seeds"]["verdict"] == "gain"  # 4 of 5


def test_runs_that_differ_in_more_than_the_seed_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    first = _plant(tmp_path, 0, rng)
    other = _plant(tmp_path, 1, rng, shared={"records": "x", "seed": 1, "corpus": "stdlib",
                                             "learning_rate": 0.005})
    with pytest.raises(ValueError, match=r"run1.*shared setting `corpus`: 'stdlib' vs 'pydocs'"):
        compare_seeds.load_reports([first, other])
    longer = _plant(tmp_path, 2, rng, budget={"steps": 2000, "global_batch_size": 32})
    with pytest.raises(ValueError, match=r"run2.*`budget.steps`: 2000 vs 1000"):
        compare_seeds.load_reports([first, longer])
    # A report from before `budget.phases` existed: unset, as [] is.
    newer = _plant(tmp_path, 3, rng, budget={"steps": 1000, "global_batch_size": 32, "phases": []})
    assert len(compare_seeds.load_reports([first, newer])) == 2
    phased = _plant(tmp_path, 4, rng, budget={"steps": 1000, "global_batch_size": 32,
                                              "phases": [{"steps": 500}]})
    with pytest.raises(ValueError, match=r"run4.*`budget.phases`"):
        compare_seeds.load_reports([first, phased])


def test_repeated_seeds_and_missing_reports_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    first = _plant(tmp_path, 0, rng)
    with pytest.raises(ValueError, match=r"distinct train.seed values. Received: \[0, 0\]"):
        compare_seeds.load_reports([first, first])
    with pytest.raises(FileNotFoundError, match="No report.json in run folder"):
        compare_seeds.load_reports([str(tmp_path / "missing")])


def test_launch_runs_only_what_is_missing(tmp_path, monkeypatch):
    commands = []
    monkeypatch.setattr(compare_seeds.subprocess, "run",
                        lambda command, **kwargs: commands.append(command))
    (tmp_path / "compare").mkdir()
    (tmp_path / "compare" / "report.json").write_text("{}")
    kept = compare_seeds.launch("c.yaml", 0, "compare", str(tmp_path), ["train.steps=10"])
    made = compare_seeds.launch("c.yaml", 3, "compare", str(tmp_path), ["train.steps=10"])
    assert kept == str(tmp_path / "compare") and made == str(tmp_path / "seed3" / "compare")
    assert len(commands) == 1
    command = " ".join(commands[0])
    assert "--set train.seed=3 --set name=compare" in command
    assert f"--set compare.output_dir={tmp_path / 'seed3'}" in command
    assert "--set train.steps=10" in command


@pytest.mark.parametrize("name", ["compare", "compare_float32"])
def test_every_seed_trains_on_the_same_records_in_a_run_folder_of_its_own(tmp_path, monkeypatch,
                                                                          name):
    """The launched overrides, read the way `compare` reads them: one records folder for the
    series (made once), one run folder per seed, and that folder is the one `launch` returns."""
    from albert_keras.compare.comparison import _records_dir
    from albert_keras.pipeline import load_pipeline

    commands = []
    monkeypatch.setattr(compare_seeds.subprocess, "run",
                        lambda command, **kwargs: commands.append(command))
    config = os.path.join(REPO, "pipelines", "compare.yaml")
    folders = [compare_seeds.launch(config, seed, name, str(tmp_path), [])
               for seed in (0, 1, 2, 7)]
    loaded = [load_pipeline(config, [c[i + 1] for i, part in enumerate(c) if part == "--set"])
              for c in commands]
    assert len({_records_dir(c) for c in loaded}) == 1
    assert [os.path.join(c.compare.output_dir, c.name) for c in loaded] == folders
    assert len(set(folders)) == 4 and [c.train.seed for c in loaded] == [0, 1, 2, 7]


def test_the_series_is_one_harness_document_that_run_all_tabulates(tmp_path, monkeypatch,
                                                                   capsys):
    from benchmarks import harness, run_all

    monkeypatch.setattr(harness, "matmul_limits", lambda: {})
    rng = np.random.default_rng(3)
    folders = [_plant(tmp_path, s, rng, machine={"cpu": "AMD EPYC", "cores": 2, "gpus": 0,
                                                 "tensorflow": "2.21.0"},
                      created=f"2026-12-0{s + 1}T10:00:00+00:00") for s in range(4)]
    out = tmp_path / "out" / "compare_seeds.json"
    assert compare_seeds.main(["--runs", *folders, "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    harness.check_result(document)
    arms = compare_seeds.summarize_arms(compare_seeds.load_reports(folders))
    assert document["rounds"] == 4 and document["settings"]["pretraining_seeds"] == [0, 1, 2, 3]
    for name in ("bert", "albert"):
        accuracy = document["figures"][f"{name} held-out MLM accuracy"]
        assert accuracy["rounds"] == arms[name]["mlm_accuracy"]["values"]
        assert accuracy["better"] == "higher" and accuracy["over"] == "pretraining seeds"
        assert document["figures"][f"{name} held-out MLM loss"]["better"] == "lower"
        gain = document["gains"][f"{name} downstream gain of pretraining"]
        expected = arms[name]["downstream"]["gain_over_pretraining_seeds"]
        assert gain["values"] == pytest.approx(expected["values"])
        assert gain["verdict"] == expected["verdict"] and gain["unit"] == "test accuracy"
        pooled = document["gains"][f"{name} downstream gain, every seed pair pooled"]
        assert len(pooled["values"]) == 4 * len(FT_SEEDS)
    assert document["details"]["arms"]["bert"]["pretraining_seeds"] == [0, 1, 2, 3]
    assert any("AMD EPYC, 2 cores" in note and "2026-12-01" in note and "2026-12-04" in note
               for note in document["notes"])
    assert any(note.startswith("albert: held-out mlm_accuracy median") for note in document["notes"])
    text = run_all.tables(run_all.load_documents(str(out.parent)))
    assert "### compare_seeds" in text and "· 4 pretraining seeds ·" in text
    assert "| bert downstream gain of pretraining | test accuracy |" in text


def _speed_stage(rng, rounds: int = 3) -> dict:
    arms = {name: {"rounds": rng.uniform(1500, 2500, rounds).tolist()} for name in ("bert", "albert")}
    return {"precision": "float32", "device": "CPU", "unit": "tokens/s", "reference": "bert",
            "rounds": rounds, "arms": arms, "load_average_before": [1.5, 1.6, 1.7],
            "load_average_after": [2.0, 1.8, 1.7]}


@pytest.mark.parametrize("seed", [0, 1])
def test_speed_rounds_are_pooled_and_judged_round_by_round_and_memory_per_seed(tmp_path, seed):
    from benchmarks import harness

    rng = np.random.default_rng(seed)
    folders = []
    for s in range(4):
        folder = _plant(tmp_path, s, rng, speed=_speed_stage(rng),
                        wall_seconds={"total": 100.0 + s, "records": 50.0 if s == 0 else 2.0})
        report = json.loads((tmp_path / f"run{s}" / "report.json").read_text())
        for arm in report["arms"]:
            arm["train_memory_mb"] = float(rng.uniform(500, 800))
        (tmp_path / f"run{s}" / "report.json").write_text(json.dumps(report))
        folders.append(folder)
    reports = compare_seeds.load_reports(folders)
    costs = compare_seeds.summarize_costs(reports)
    result = compare_seeds.benchmark_result(folders, reports, compare_seeds.summarize_arms(reports))
    document = result.to_dict(matmul=False)
    harness.check_result(document)
    albert = [v for r in reports for v in r["speed"]["arms"]["albert"]["rounds"]]
    bert = [v for r in reports for v in r["speed"]["arms"]["bert"]["rounds"]]
    figure = document["figures"]["albert training tokens/s (speed stage)"]
    assert figure["rounds"] == albert and figure["over"] == "speed rounds (3 per pretraining seed)"
    comparison = document["comparisons"]["albert vs bert training tokens/s"]
    ratios = [a / b for a, b in zip(albert, bert)]
    assert comparison["speed_ratio_rounds"] == pytest.approx(ratios)
    assert comparison["verdict"] == ("faster" if min(ratios) > 1 else
                                     "slower" if max(ratios) < 1 else "cannot conclude")
    assert "bert vs bert training tokens/s" not in document["comparisons"]
    memory = document["figures"]["bert training memory"]
    assert memory["rounds"] == [r["arms"][0]["train_memory_mb"] for r in reports]
    assert memory["better"] == "lower" and memory["unit"] == "MB"
    assert costs["wall_seconds"] == [100.0, 101.0, 102.0, 103.0]
    wall = document["figures"]["compare wall time per run"]
    assert wall["rounds"] == [100.0, 101.0, 102.0, 103.0] and wall["unit"] == "s"
    assert wall["over"] == "pretraining seeds" and wall["better"] == "lower"
    records = document["figures"]["of which records (made, or found and checked)"]
    assert records["rounds"] == [50.0, 2.0, 2.0, 2.0]
    # A report from before the records stage was timed: no wall-time figures, the rest stays.
    del reports[1]["wall_seconds"]["records"]
    older = compare_seeds.benchmark_result(folders, reports, compare_seeds.summarize_arms(reports))
    assert "compare wall time per run" not in older.to_dict(matmul=False)["figures"]
    assert document["details"]["costs"] == costs
    assert any("1.50 -> 2.00" in note for note in document["notes"])


def test_reports_without_a_speed_stage_give_scores_only(tmp_path):
    rng = np.random.default_rng(0)
    folders = [_plant(tmp_path, s, rng) for s in range(3)]
    folders.append(_plant(tmp_path, 3, rng, speed=_speed_stage(rng)))
    reports = compare_seeds.load_reports(folders)
    assert compare_seeds.summarize_costs(reports) is None
    document = compare_seeds.benchmark_result(
        folders, reports, compare_seeds.summarize_arms(reports)).to_dict(matmul=False)
    assert document["comparisons"] == {} and "costs" not in document["details"]
    assert not any("tokens/s" in name for name in document["figures"])


def _launch_planting(tmp_path, rng, launched, **changes):
    """A stand-in for `launch` that plants the seed's finished run in its run folder."""
    def launch(config, seed, name, output_dir, overrides):
        launched.append(seed)
        folder = compare_seeds.run_folder(output_dir, name, seed)
        os.makedirs(os.path.dirname(folder), exist_ok=True)
        os.rename(_plant(tmp_path, seed, rng, **changes), folder)
        return folder
    return launch


@pytest.mark.parametrize("seed", [0, 1])
def test_a_series_goes_on_from_its_document_where_the_run_folders_are_gone(tmp_path, monkeypatch,
                                                                           seed):
    from benchmarks import harness

    monkeypatch.setattr(harness, "matmul_limits", lambda: {})
    rng = np.random.default_rng(seed)
    (tmp_path / "runs").mkdir()
    out = tmp_path / "out" / "compare_seeds_float32.json"
    launched = []
    monkeypatch.setattr(compare_seeds, "launch", _launch_planting(tmp_path, rng, launched))
    common = ["--output-dir", str(tmp_path / "runs"), "--out", str(out)]
    assert compare_seeds.main(["--seeds", "0", "1", *common]) == 0
    first = json.loads(out.read_text())
    assert first["benchmark"] == "compare_seeds_float32"  # named after its file
    assert [r["shared"]["seed"] for r in first["details"]["reports"]] == [0, 1]
    # Another machine: no run folders, only the document; seeds 0 and 1 are not run again.
    for report in (tmp_path / "runs").rglob("report.json"):
        report.unlink()
    launched.clear()
    assert compare_seeds.main(["--seeds", "0", "1", "2", *common]) == 0
    assert launched == [2]
    document = json.loads(out.read_text())
    harness.check_result(document)
    assert document["settings"]["pretraining_seeds"] == [0, 1, 2]
    assert document["details"]["reports"][:2] == first["details"]["reports"]
    for name in ("bert", "albert"):
        kept = first["figures"][f"{name} held-out MLM accuracy"]["rounds"]
        assert document["figures"][f"{name} held-out MLM accuracy"]["rounds"][:2] == kept
    assert document["details"]["runs"][0].endswith("compare_seeds_float32.json (seed 0)")
    # The document is a source for --runs too: the same summary from it alone.
    again = tmp_path / "again.json"
    assert compare_seeds.main(["--runs", str(out), "--out", str(again)]) == 0
    assert json.loads(again.read_text())["details"]["arms"] == document["details"]["arms"]


def test_a_run_unlike_the_kept_ones_stops_the_series_naming_both(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    (tmp_path / "runs").mkdir()
    out = tmp_path / "compare_seeds.json"
    launched = []
    monkeypatch.setattr(compare_seeds, "launch", _launch_planting(tmp_path, rng, launched))
    compare_seeds.main(["--seeds", "0", "--output-dir", str(tmp_path / "runs"), "--out", str(out)])
    (tmp_path / "runs" / "compare" / "report.json").unlink()
    shared = {"records": "r", "seed": 1, "corpus": "pydocs", "learning_rate": 0.0075}
    monkeypatch.setattr(compare_seeds, "launch",
                        _launch_planting(tmp_path, rng, launched, shared=shared))
    with pytest.raises(ValueError, match=r"seed1/compare'.*compare_seeds.json \(seed 0\)'.*"
                                         r"`learning_rate`: 0.0075 vs 0.005"):
        compare_seeds.main(["--seeds", "0", "1", "2", "--output-dir", str(tmp_path / "runs"),
                            "--out", str(out)])
    assert launched == [0, 1]  # seed 2 never started


def _series_launching(tmp_path, monkeypatch, rng_seed, before_run):
    """A series folder in `tmp_path` whose `launch` calls `before_run(seed)`, then plants the
    seed's finished run. Returns (document path, launched seeds, the planting launch)."""
    from benchmarks import harness

    monkeypatch.setattr(harness, "matmul_limits", lambda: {})
    (tmp_path / "runs").mkdir()
    launched = []
    planting = _launch_planting(tmp_path, np.random.default_rng(rng_seed), launched)

    def launch(config, seed, name, output_dir, overrides):
        before_run(seed)
        return planting(config, seed, name, output_dir, overrides)

    monkeypatch.setattr(compare_seeds, "launch", launch)
    return tmp_path / "compare_seeds.json", launched, planting


def test_the_document_is_written_after_each_run(tmp_path, monkeypatch):
    """A series killed after its second run (here: its third fails) keeps the first two in
    its document, and goes on from them."""
    from benchmarks import harness

    def die_at_seed_2(seed):
        if seed == 2:
            raise RuntimeError("killed")

    out, launched, planting = _series_launching(tmp_path, monkeypatch, 7, die_at_seed_2)
    common = ["--seeds", "0", "1", "2", "--output-dir", str(tmp_path / "runs"), "--out", str(out)]
    with pytest.raises(RuntimeError, match="killed"):
        compare_seeds.main(common)
    document = json.loads(out.read_text())
    harness.check_result(document)
    assert [r["shared"]["seed"] for r in document["details"]["reports"]] == [0, 1]
    assert document["settings"]["pretraining_seeds"] == [0, 1]
    shutil.rmtree(tmp_path / "runs")  # The machine is lost; the document is not.
    (tmp_path / "runs").mkdir()
    launched.clear()
    monkeypatch.setattr(compare_seeds, "launch", planting)
    assert compare_seeds.main(common) == 0
    assert launched == [2]
    assert json.loads(out.read_text())["settings"]["pretraining_seeds"] == [0, 1, 2]


def test_documents_time_the_series_from_the_scripts_start(tmp_path, monkeypatch):
    """Written after each run, the document's wall time and load before are the series'."""
    from benchmarks import harness

    now = [0.0]
    monkeypatch.setattr(harness.time, "perf_counter", lambda: now[0])

    def take_25_minutes(seed):
        now[0] += 1500.0

    out, _, _ = _series_launching(tmp_path, monkeypatch, 3, take_25_minutes)
    assert compare_seeds.main(["--seeds", "0", "1", "--output-dir", str(tmp_path / "runs"),
                               "--out", str(out)]) == 0
    assert json.loads(out.read_text())["wall_seconds"] == 3000.0


def test_documents_without_kept_reports_are_refused_by_name(tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"benchmark": "compare_seeds", "details": {"arms": {}}}))
    with pytest.raises(ValueError, match="old.json' keeps no run reports"):
        compare_seeds.load_reports([str(old)])
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"figures": {}}))
    with pytest.raises(ValueError, match="other.json' is not a compare_seeds document"):
        compare_seeds.load_reports([str(other)])
