"""The benchmark scripts' own logic on synthetic measurements (no timing, no models built)."""

import argparse
import json
import os

import pytest

from benchmarks import harness, run_all
from tests.helpers import load_script

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _script(name):
    return load_script(os.path.join(REPO, "benchmarks", f"{name}.py"), f"benchmark_{name}")


def _figure(result, name, values, better="higher"):
    result.add_figure(name, values, unit="x", better=better, device="CPU")


def test_train_step_comparisons_pair_the_right_figures():
    script = _script("train_step_throughput")
    contenders = [(implementation, model, "float32", 1) for model in ("bert_base", "albert_base")
                  for implementation in ("albert_keras", "keras_hub")]
    contenders += [("albert_keras", "albert_base", "float32", 1, "bucketed"),
                   ("keras_hub", "albert_base", "float32", 1, "padded")]
    result = harness.BenchmarkResult("train_step_throughput")
    for key in contenders:
        name = script._name(key)
        fast = key[0] == "albert_keras"
        _figure(result, f"{name} tokens/s", [2.0, 2.1, 1.9] if fast else [1.0, 1.1, 0.9])
        _figure(result, f"{name} peak memory", [1.0, 1.0, 1.0], better="lower")
        if len(key) == 5:
            _figure(result, f"{name} useful tokens/s", [3.0, 3.0, 3.0] if fast else [1, 1, 1])
    script._comparisons(result, contenders, tolerance=0.0)
    assert set(result.comparisons) == {
        "bert_base float32 x1 tokens/s ours vs keras_hub",
        "albert_base float32 x1 tokens/s ours vs keras_hub",
        "albert_keras float32 x1 tokens/s albert_base vs bert_base",
        "keras_hub float32 x1 tokens/s albert_base vs bert_base",
        "albert_base useful tokens/s ours bucketed vs keras_hub padded"}
    ours = result.comparisons["albert_base float32 x1 tokens/s ours vs keras_hub"]
    assert ours["a"] == "albert_keras albert_base float32 x1 tokens/s"
    assert ours["verdict"] == "faster"
    memory = result.figures["albert_keras float32 x1 peak memory albert_base / bert_base"]
    assert memory["rounds"] == [1.0, 1.0, 1.0] and memory["unit"] == "ratio"


def test_train_step_cli_keeps_repeats_as_rounds():
    script = _script("train_step_throughput")
    assert "--rounds" in script.__doc__ and "best" not in script.__doc__.lower()
    assert script._limit_dtype("mixed_bfloat16") == "bfloat16"


def test_accelerator_largest_batch_doubles_then_bisects(monkeypatch):
    script = _script("accelerator")
    tried = []

    def fake_child(command):
        batch = int(command[command.index("--batch-size") + 1])
        tried.append(batch)
        return {"tokens_per_second": 1.0} if batch <= 37 else None

    monkeypatch.setattr(script, "run_child", fake_child)
    args = argparse.Namespace(steps=1, warmup_steps=1, quick=True, batch_search_xla=False)
    found = script.largest_batch("albert_base", 16, 4, 4096, args)
    assert tried[:5] == [4, 8, 16, 32, 64]
    assert 33 <= found["largest_batch"] <= 37 and found["first_failing_batch"] > 37
    assert found["first_failing_batch"] - found["largest_batch"] <= max(1, 32 // 8)
    capped = script.largest_batch("albert_base", 16, 4, 8, args)
    assert capped == {"largest_batch": 8, "first_failing_batch": None, "searched_up_to": 8,
                      "probes": [[4, True], [8, True]]}


def test_accelerator_child_command_is_bf16_and_xla_switchable():
    script = _script("accelerator")
    args = argparse.Namespace(steps=5, warmup_steps=2, quick=False)
    command = script.train_command("bert_base", "keras_hub", 512, 8, True, args)
    assert command[command.index("--precision") + 1] == "mixed_bfloat16"
    assert "--jit-compile" in command and "--small" not in command
    assert command[command.index("--measure") + 1] == "keras_hub:bert_base"
    assert command[command.index("--predictions") + 1] == "77"  # 15% of 512.
    assert "--jit-compile" not in script.train_command("bert_base", "keras_hub", 512, 8, False,
                                                       args)


def test_serving_consistency_check_explains_a_residual():
    script = _script("serving_latency")
    result = harness.BenchmarkResult("serving_latency")
    # keras-hub slower on sentences than on long texts in every round: a residual to explain.
    _figure(result, "sentences/1 keras_hub p50", [28.0, 27.0, 29.0], better="lower")
    _figure(result, "long_texts/1 keras_hub p50", [16.0, 17.0, 16.5], better="lower")
    script._consistency(result, [1])
    comparison = result.comparisons["keras_hub sentences/1 vs long_texts/1 p50"]
    assert comparison["verdict"] == "slower"
    assert any(note.startswith("Residual: keras-hub was slower on sentences")
               for note in result.notes)
    result = harness.BenchmarkResult("serving_latency")
    _figure(result, "sentences/1 keras_hub p50", [15.0, 16.0, 15.5], better="lower")
    _figure(result, "long_texts/1 keras_hub p50", [16.0, 17.0, 16.5], better="lower")
    script._consistency(result, [1])
    assert not result.notes


def test_train_step_measures_each_precision_once():
    script = _script("train_step_throughput")
    no_bf16 = lambda precision: ("float32", "auto: no native bfloat16")  # noqa: E731
    rows, notes = script._precision_rows(["float32", "auto"], resolve=no_bf16)
    assert rows == ["float32"]
    assert len(notes) == 1 and "`auto` is float32" in notes[0] and "no native" in notes[0]
    native = lambda precision: ("mixed_bfloat16", "auto: the CPU has amx_bf16")  # noqa: E731
    assert script._precision_rows(["float32", "auto"], resolve=native) == (
        ["float32", "mixed_bfloat16"], [])
    assert script._precision_rows(["float32", "float32"], resolve=native)[0] == ["float32"]


def test_quickstart_time_figures_and_notes_come_from_each_rounds_summary(tmp_path, monkeypatch):
    script = _script("quickstart_time")
    monkeypatch.setattr(harness, "matmul_limits", lambda: {})
    walls = iter([250.0, 240.0, 260.0])
    seen = []

    def run(work, overrides):
        seen.append(overrides)
        return {"wall_seconds": next(walls), "train_seconds": 150.0, "precision": "float32",
                "precision_reason": "auto: no native bfloat16", "pair_task": "sop",
                "steps_run": 1000, "phases": [{}, {}], "eval_pairs": 320,
                "most_frequent_token_accuracy": 0.057,
                "final": {"mlm_accuracy": 0.116, "pair_accuracy": 0.712}}

    monkeypatch.setattr(script, "run_quickstart", run)
    out = tmp_path / "quickstart_time.json"
    assert script.main(["--rounds", "3", "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    harness.check_result(document)
    assert seen == [[], [], []]  # --full: the README's command as it is.
    wall = document["figures"]["quickstart wall time (records prepared)"]
    assert (wall["median"], wall["min"], wall["max"]) == (250.0, 240.0, 260.0)
    assert wall["precision"] == "float32" and wall["better"] == "lower"
    assert document["figures"]["held-out SOP accuracy"]["median"] == 0.712
    assert any("1000 steps in 2 phase(s), float32" in note for note in document["notes"])
    assert any(note.startswith("Pair task: learned") for note in document["notes"])
    # A round in another precision would mix two quickstarts in one figure.
    walls = iter([1.0, 1.0, 1.0])
    precisions = iter(["float32", "mixed_bfloat16", "float32"])
    monkeypatch.setattr(script, "run_quickstart",
                        lambda work, overrides: {**run(work, overrides), "wall_seconds": 1.0,
                                                 "precision": next(precisions)})
    with pytest.raises(RuntimeError, match="different precisions"):
        script.main(["--rounds", "3", "--quick", "--out", str(out)])
    assert seen[-1] == script.QUICK
    # --set goes to every round; the document is named after its file (its run_all entry).
    walls = iter([1.0, 1.0, 1.0])
    monkeypatch.setattr(script, "run_quickstart", run)
    forced = tmp_path / "quickstart_time_float32.json"
    assert script.main(["--rounds", "3", "--set", "train.precision=float32",
                        "--out", str(forced)]) == 0
    assert seen[-3:] == [["train.precision=float32"]] * 3
    assert json.loads(forced.read_text())["benchmark"] == "quickstart_time_float32"


def test_adaptation_document_pairs_adapted_with_published_by_seed(tmp_path, monkeypatch):
    script = _script("adaptation")
    monkeypatch.setattr(harness, "matmul_limits", lambda: {})
    published = [0.96, 0.94, 0.98, 0.96, 0.92]
    adapted = [0.98, 0.96, 0.98, 0.97, 0.95]
    gain = script.paired_gain(adapted, published)
    results = {"csv": "spam", "model": "minilm", "seeds": [0, 1, 2, 3, 4],
               "learning_rates": [3e-5, 1e-4], "metric": "accuracy", "split_seed": 0,
               "epochs": 3, "finetune_seconds_median": 60.0, "work_seconds": 1133.0,
               "finetune_runs": 10,
               "adaptation": {"steps": 300, "seconds": 533.0, "precision": "float32",
                              "held_out_initial": {"mlm_loss": 10.98, "mlm_accuracy": 0.0},
                              "held_out_final": {"mlm_loss": 4.17, "mlm_accuracy": 0.352}},
               "published": {"learning_rate": 1e-4, "values": published},
               "adapted": {"learning_rate": 1e-4, "values": adapted}, "gain": gain}
    document = script.benchmark_result("spam", results).to_dict()
    harness.check_result(document)
    assert document["benchmark"] == "adaptation_spam" and document["rounds"] == 5
    assert document["figures"]["adapted test accuracy"]["rounds"] == adapted
    # 4 of 5 seeds gain (one ties), median +0.02: a gain by the protocol's rule.
    assert document["gains"]["adapted vs published"]["verdict"] == "gain" == gain["verdict"]
    figures = document["figures"]
    assert figures["adaptation held-out MLM loss, before"]["rounds"] == [10.98]
    assert figures["adaptation held-out MLM loss, after"]["median"] == 4.17
    assert figures["adaptation held-out MLM accuracy, after"]["better"] == "higher"
    assert any("10 fine-tuning runs, took 1133 s in all" in note for note in document["notes"])
    assert document["details"] is results
    registered = {b.name: b for b in run_all.BENCHMARKS}
    assert registered["adaptation_spam"].script == "adaptation"
    # A name that is not a file is one of the fetched labelled CSVs; a wrong one says so.
    (tmp_path / "labeled").mkdir()
    (tmp_path / "labeled" / "spam.csv").write_text("ham,hello\n")
    monkeypatch.setattr(script, "fetch_data", lambda: str(tmp_path))
    assert script.labelled_csv("spam.csv") == str(tmp_path / "labeled" / "spam.csv")
    own = tmp_path / "mine.csv"
    own.write_text("a,b\n")
    assert script.labelled_csv(str(own)) == str(own)
    with pytest.raises(FileNotFoundError, match="'nope.csv' is neither a file"):
        script.labelled_csv("nope.csv")


def test_compare_downstream_document_gives_each_arms_twins_and_gain(monkeypatch):
    from albert_keras.jobs.downstream_protocol import paired_gain

    script = _script("compare_downstream")
    monkeypatch.setattr(harness, "matmul_limits", lambda: {})
    arms = {}
    for arm, shift in (("bert", 0.1), ("albert", -0.01)):
        pretrained = [0.40 + 0.01 * s + shift for s in range(5)]
        twin = [0.40 + 0.02 * s for s in range(5)]
        arms[arm] = {"metric": "accuracy", "split": "test",
                     "pretrained": {"learning_rate": 1e-3, "values": pretrained},
                     "random_init": {"learning_rate": 5e-4, "values": twin},
                     "gain": paired_gain(pretrained, twin)}
    results = {"run": "runs/compare", "csv": "built-in", "seeds": [0, 1, 2, 3, 4],
               "finetune": {"epochs": 4}, "arms": arms, "seconds": {"bert": 700, "albert": 650}}
    document = script.benchmark_result("built-in", results, "float32").to_dict()
    harness.check_result(document)
    assert document["benchmark"] == "compare_downstream_built-in"
    assert document["figures"]["bert random_init test accuracy"]["learning_rate"] == 5e-4
    assert document["gains"]["bert downstream gain of pretraining"]["verdict"] == "gain"
    # albert: -0.01, -0.02, ... per seed: every seed loses.
    assert document["gains"]["albert downstream gain of pretraining"]["verdict"] == "loss"
    assert any("runs/compare" in note for note in document["notes"])


def test_compare_downstream_finds_the_records_of_a_run_made_elsewhere(tmp_path, monkeypatch):
    script = _script("compare_downstream")
    monkeypatch.chdir(tmp_path)  # not the checkout, whose own tf_records/compare may exist
    (tmp_path / "checkout" / "tf_records" / "compare").mkdir(parents=True)
    (tmp_path / "checkout" / "runs" / "compare").mkdir(parents=True)
    report = {"shared": {"records": os.path.join("tf_records", "compare")}}
    run = str(tmp_path / "checkout" / "runs" / "compare")
    assert script.records_dir(report, run) == str(tmp_path / "checkout" / "tf_records" /
                                                  "compare")
    report["shared"]["records"] = str(tmp_path / "checkout" / "tf_records" / "compare")
    assert script.records_dir(report, "anywhere") == report["shared"]["records"]
    with pytest.raises(FileNotFoundError, match="records of the compare run 'elsewhere'"):
        script.records_dir({"shared": {"records": "tf_records/gone"}}, "elsewhere")


def test_finetune_real_data_document_pairs_seeds_and_alternates_the_speed_rounds(monkeypatch):
    script = _script("finetune_real_data")
    monkeypatch.setattr(harness, "matmul_limits", lambda: {})
    classification = [{"seed": s, "bag_of_words": {"accuracy": 0.76 - 0.01 * s},
                       "minilm": {"accuracy": 0.82 + 0.005 * s, "precision": "float32"}}
                      for s in range(3)]
    results = {"seeds": [0, 1, 2], "epochs": 3, "classification": classification,
               "bucketing": {"bucketed": [31.5, 30.9, 32.0], "padded": [151.1, 149.0, 150.2],
                             "examples": 320, "mean_length": 29.0, "max_sequence_length": 128,
                             "precision": "float32"},
               "pos": {"token_accuracy": 0.951, "precision": "float32"}}
    document = script.benchmark_result(results).to_dict()
    harness.check_result(document)
    assert document["benchmark"] == "finetune_real_data"
    gain = document["gains"]["MiniLM-L6 vs bag-of-words"]
    assert gain["values"] == pytest.approx([0.06, 0.075, 0.09]) and gain["verdict"] == "gain"
    speed = document["comparisons"]["bucketed vs padded epoch"]
    assert speed["verdict"] == "faster" and speed["min"] == pytest.approx(150.2 / 32.0)  # Per round, not of medians
    assert document["figures"]["MiniLM-L6 POS token accuracy"]["meets_target"] is True
    # The precision gate: its own document, bf16 against float32 paired by seed.
    gate = {"seeds": [0, 1, 2], "epochs": 2, "precision_gate": {
        "float32": [{"accuracy": a, "train_seconds": 100.0} for a in (0.80, 0.82, 0.81)],
        "mixed_bfloat16": [{"accuracy": a, "train_seconds": 60.0} for a in (0.81, 0.81, 0.81)]}}
    document = script.benchmark_result(gate).to_dict()
    harness.check_result(document)
    assert document["benchmark"] == "finetune_precision_gate"
    accuracy = document["gains"]["mixed_bfloat16 vs float32 test accuracy"]
    assert accuracy["values"] == pytest.approx([0.01, -0.01, 0.0])
    assert accuracy["verdict"] == "no difference"
    assert document["comparisons"]["mixed_bfloat16 vs float32 training"]["verdict"] == "faster"


def test_the_precision_gate_alternates_which_precision_runs_first(monkeypatch):
    script = _script("finetune_real_data")
    order = []

    def fake_finetune(config):
        order.append((config.finetune.seed, config.finetune.precision))
        return {"metrics": {"test": {"accuracy": 0.8, "macro_f1": 0.8}}, "train_seconds": 1.0,
                "precision": config.finetune.precision}

    monkeypatch.setattr(script, "finetune", fake_finetune)
    runs = script.precision_gate("minilm", "train.csv", "test.csv", "work", 1, [0, 1, 2])
    assert order == [(0, "float32"), (0, "mixed_bfloat16"), (1, "mixed_bfloat16"),
                     (1, "float32"), (2, "float32"), (2, "mixed_bfloat16")]
    assert [r["seed"] for r in runs["mixed_bfloat16"]] == [0, 1, 2]


def test_adaptation_resumes_its_finished_work_and_refuses_other_settings(tmp_path, monkeypatch):
    """A kill between fine-tuning runs keeps the adaptation and the finished runs; a second
    start runs only the rest, more seeds may be added, other settings are refused."""
    script = _script("adaptation")
    monkeypatch.setattr(harness, "matmul_limits", lambda: {})
    rows = [f"{'spam' if i % 3 else 'ham'},message number {i} about item {i * 7}\n"
            for i in range(60)]
    (tmp_path / "spam.csv").write_text("".join(rows))
    (tmp_path / "minilm").mkdir()
    adaptations, finetunes = [], []

    def fake_pretrain(config):
        adaptations.append(config.name)
        path = os.path.join(config.train.output_dir, config.name)
        os.makedirs(path, exist_ok=True)
        open(os.path.join(path, "encoder.keras"), "w").close()
        return {"initial": {"mlm_loss": 10.0, "mlm_accuracy": 0.0},
                "final": {"mlm_loss": 5.0, "mlm_accuracy": 0.2}, "precision": "float32"}

    def fake_finetune(run, fail_at=None):
        finetunes.append(run.name)
        if fail_at is not None and len(finetunes) == fail_at:
            raise RuntimeError("killed")
        # Adapted is better by 0.01 at each seed; the higher rate is better on validation.
        adapted = run.name.startswith("adapted")
        seed, rate = run.finetune.seed, run.finetune.learning_rate
        score = 0.8 + 0.01 * adapted + 0.001 * seed + (0.05 if rate == 1e-4 else 0.0)
        return {"metrics": {"validation": {"accuracy": score}, "test": {"accuracy": score}}}

    monkeypatch.setattr(script, "prepare_and_pretrain", fake_pretrain)
    monkeypatch.setattr(script, "finetune", lambda run: fake_finetune(run, fail_at=3))
    out = tmp_path / "adaptation_spam.json"
    base = ["--csv", str(tmp_path / "spam.csv"), "--model", str(tmp_path / "minilm"),
            "--steps", "4", "--work", str(tmp_path / "work"), "--out", str(out)]
    with pytest.raises(RuntimeError, match="killed"):
        script.main([*base, "--seeds", "0", "1", "2"])
    progress = json.loads((tmp_path / "work" / "spam" / "progress.json").read_text())
    assert len(progress["runs"]) == 2 and progress["adaptation"]["steps"] == 4
    assert not out.exists()

    monkeypatch.setattr(script, "finetune", fake_finetune)
    script.main([*base, "--seeds", "0", "1", "2"])
    assert adaptations == ["adapt_spam"]  # Not adapted again.
    assert len(finetunes) == 3 + (3 * 2 * 2 - 2)  # The killed run once more, then the rest.
    assert len(set(finetunes)) == 12
    document = json.loads(out.read_text())
    harness.check_result(document)
    gain = document["gains"]["adapted vs published"]
    assert gain["values"] == pytest.approx([0.01] * 3) and gain["verdict"] == "gain"
    assert document["details"]["published"]["learning_rate"] == 1e-4

    before = len(finetunes)
    script.main([*base, "--seeds", "0", "1", "2", "3"])  # One seed more: its 4 runs only.
    assert len(finetunes) == before + 4 and adaptations == ["adapt_spam"]
    assert json.loads(out.read_text())["rounds"] == 4
    with pytest.raises(SystemExit, match=r"other settings \(differing: \['epochs'\]\)"):
        script.main([*base, "--seeds", "0", "--epochs", "2"])
