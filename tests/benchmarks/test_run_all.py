"""`benchmarks.run_all`: tables regenerated from JSON documents alone, skips with a reason."""

import argparse
import json
import os
import subprocess

from benchmarks import harness, run_all


def _document(tmp_path, monkeypatch, name="demo") -> str:
    monkeypatch.setattr(harness, "matmul_limits", lambda: {
        "float32": {"median": 2.0e11, "min": 1.9e11, "max": 2.1e11, "device": "CPU"},
        "bfloat16": {"median": 4.0e11, "min": 3.5e11, "max": 4.5e11, "device": "CPU"}})
    result = harness.BenchmarkResult(name, settings={"size": 4}, rounds=3)
    result.add_figure("ours p50", [10.0, 12.0, 11.0], unit="ms", better="lower", device="CPU")
    result.add_figure("theirs p50", [20.0, 21.0, 19.5], unit="ms", better="lower",
                      precision="mixed_bfloat16", device="CPU")
    result.add_figure("peak memory", [2**30, 2**30, 2**30], unit="bytes", better="lower",
                      device="CPU")
    result.add_comparison("ours vs theirs p50", "ours p50", "theirs p50")
    result.note("a residual explained")
    path = os.path.join(tmp_path, f"{name}.json")
    result.write(path)
    return path


def test_tables_come_from_the_json(tmp_path, monkeypatch):
    path = _document(tmp_path, monkeypatch)
    with open(path, encoding="utf-8") as f:
        document = json.load(f)
    document["figures"]["ours p50"]["median"] = 11.25  # Edit the JSON: the table follows it.
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f)
    assert run_all.main(["--tables", str(tmp_path)]) == 0
    with open(os.path.join(tmp_path, "results_tables.md"), encoding="utf-8") as f:
        text = f.read()
    assert text.startswith(run_all.BEGIN) and text.rstrip().endswith(run_all.END)
    assert "### demo" in text
    assert "| ours p50 | float32 | CPU | 11.25 ms | 10 ms - 12 ms | 3 rounds |" in text
    assert "| theirs p50 | mixed_bfloat16 | CPU | 20 ms | 19.5 ms - 21 ms | 3 rounds |" in text
    assert "| peak memory | float32 | CPU | 1,024 MiB | 1,024 MiB - 1,024 MiB | 3 rounds |" in text
    # Per-round speed ratios 2.0, 1.75, 1.77...: median 1.773, every round faster.
    assert "| ours vs theirs p50 | 1.773 | 1.750 - 2.000 | faster |" in text
    assert "float32 matmul limit 200.0 GFLOP/s (190.0-210.0, CPU)" in text
    assert "bfloat16 matmul limit 400.0 GFLOP/s" in text
    assert "Note: a residual explained" in text
    assert harness.VERDICT_RULE in text


def test_scores_over_seeds_get_their_own_rule_and_table(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "matmul_limits", lambda: {})
    result = harness.BenchmarkResult("seeds", settings={"values_over": "pretraining seeds"},
                                     rounds=5)
    result.add_figure("bert held-out MLM accuracy", [0.15, 0.14, 0.16, 0.145, 0.152], unit="",
                      device="CPU", over="pretraining seeds")
    result.add_gain("bert downstream gain", [0.05, 0.02, -0.01, 0.03, 0.04],
                    unit="test accuracy", over="pretraining seeds", device="CPU")
    result.add_gain("albert downstream gain", [0.05, -0.02], unit="test accuracy",
                    over="pretraining seeds", device="CPU")
    result.write(os.path.join(tmp_path, "seeds.json"))
    text = run_all.tables(run_all.load_documents(str(tmp_path)))
    assert "· 5 pretraining seeds ·" in text and "alternated rounds" not in text
    assert ("| bert held-out MLM accuracy | float32 | CPU | 0.15 | 0.14 - 0.16 | "
            "5 pretraining seeds |") in text
    assert f"Gain rule: {harness.GAIN_RULE}" in text
    # 4 of 5 seeds gain, median +0.03: a gain; two seeds cannot decide anything.
    assert ("| bert downstream gain | test accuracy | float32 | CPU | +0.030 | -0.010 - +0.050 "
            "| 4 of 5 pretraining seeds | gain |") in text
    assert "| 1 of 2 pretraining seeds | cannot conclude |" in text


def test_tables_show_skips_and_failures(tmp_path):
    result = harness.BenchmarkResult("needs_data")
    result.skip("no Shakespeare plays here")
    result.write(os.path.join(tmp_path, "needs_data.json"), matmul=False)
    failure = {"benchmark": "broken", "failed": 2, "output_tail": "Traceback: boom"}
    text = run_all.tables(run_all.load_documents(str(tmp_path)), [failure])
    assert "### needs_data" in text and "Not run: no Shakespeare plays here" in text
    assert "### broken" in text and "FAILED (2)" in text and "Traceback: boom" in text


def test_load_documents_rejects_a_broken_document(tmp_path):
    with open(os.path.join(tmp_path, "bad.json"), "w", encoding="utf-8") as f:
        json.dump({"schema": harness.SCHEMA, "benchmark": "bad"}, f)
    try:
        run_all.load_documents(str(tmp_path))
    except ValueError as error:
        assert "lacks keys" in str(error)
    else:
        raise AssertionError("a document without figures was accepted")


def test_quick_skips_what_needs_data_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("ALBERT_KERAS_DATA", str(tmp_path / "nothing"))
    args = argparse.Namespace(quick=True, full=False, reference=str(tmp_path / "none"))
    assert "no Shakespeare plays" in run_all.needs_shakespeare(args)
    assert "never downloads" in run_all.needs_reference(args)
    os.makedirs(tmp_path / "nothing" / "corpus" / "shakespeare")
    (tmp_path / "nothing" / "corpus" / "shakespeare" / "play.txt").write_text("To be.\n")
    assert run_all.needs_shakespeare(args) is None
    assert "google-research/albert" in run_all.needs_reference(args)
    benchmark = [b for b in run_all.BENCHMARKS if b.name == "prepare_vs_reference"][0]
    document = run_all.run_benchmark(benchmark, args, str(tmp_path))
    assert document["skipped"] and "google-research/albert" in document["skipped"]
    harness.check_result(document)


def test_every_benchmark_script_exists_and_modes_are_set():
    for benchmark in run_all.BENCHMARKS:
        script = benchmark.script or benchmark.name
        assert os.path.isfile(os.path.join(run_all.ROOT, "benchmarks", f"{script}.py"))
        assert "--out" not in (benchmark.quick or []) and "--out" not in benchmark.full


def test_quick_skips_full_only_benchmarks_with_the_reason(tmp_path):
    args = argparse.Namespace(quick=True, full=False, reference=str(tmp_path))
    benchmark = [b for b in run_all.BENCHMARKS if b.quick is None][0]
    document = run_all.run_benchmark(benchmark, args, str(tmp_path))
    assert "--full only" in document["skipped"]
    assert os.path.isfile(os.path.join(tmp_path, f"{benchmark.name}.json"))


def test_data_bound_benchmarks_say_what_they_need():
    for benchmark in run_all.BENCHMARKS:
        if benchmark.name.startswith(("prepare", "reader")):
            assert benchmark.needs is not None


def test_results_file_gets_the_tables_between_its_markers_only(tmp_path, monkeypatch):
    _document(tmp_path, monkeypatch)
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# Results\nhand-written prose\n{run_all.BEGIN}\nold table 9.99\n"
                       f"{run_all.END}\n## After\nmore prose\n")
    assert run_all.main(["--tables", str(tmp_path), "--results", str(results)]) == 0
    text = results.read_text()
    assert text.startswith("# Results\nhand-written prose\n" + run_all.BEGIN)
    assert text.endswith(run_all.END + "\n## After\nmore prose\n")
    assert "old table" not in text and "| ours vs theirs p50 | 1.773 |" in text
    assert text.count(run_all.BEGIN) == 1 and text.count(run_all.END) == 1
    results.write_text("no markers here\n")
    try:
        run_all.main(["--tables", str(tmp_path), "--results", str(results)])
    except ValueError as error:
        assert "must hold" in str(error)
    else:
        raise AssertionError("a results file without markers was accepted")
    assert results.read_text() == "no markers here\n"


def test_full_accelerator_grid_needs_an_accelerator(monkeypatch):
    monkeypatch.setattr(harness, "default_device", lambda: "CPU")
    assert "no GPU or TPU" in run_all.needs_accelerator(argparse.Namespace(quick=False))
    assert run_all.needs_accelerator(argparse.Namespace(quick=True)) is None
    monkeypatch.setattr(harness, "default_device", lambda: "GPU:0 (NVIDIA H100 80GB HBM3)")
    assert run_all.needs_accelerator(argparse.Namespace(quick=False)) is None


def test_only_measures_again_and_the_tables_keep_the_others(tmp_path, monkeypatch):
    _document(tmp_path, monkeypatch, name="serving_latency")
    _document(tmp_path, monkeypatch, name="train_step_throughput")
    measured = []

    def fake_run(benchmark, args, out_dir):
        measured.append(benchmark.name)
        return json.load(open(os.path.join(out_dir, f"{benchmark.name}.json"), encoding="utf-8"))

    monkeypatch.setattr(run_all, "run_benchmark", fake_run)
    results = tmp_path / "RESULTS.md"
    results.write_text(f"{run_all.BEGIN}\n{run_all.END}\n")
    assert run_all.main(["--full", "--only", "serving_latency", "--out-dir", str(tmp_path),
                         "--results", str(results)]) == 0
    assert measured == ["serving_latency"]
    text = results.read_text()
    assert "### serving_latency" in text and "### train_step_throughput" in text


def test_a_resumable_benchmark_finds_its_runs_so_far_and_others_start_clean(tmp_path,
                                                                           monkeypatch):
    seen = {}

    def fake_subprocess(command, **kwargs):
        path = command[command.index("--out") + 1]
        name = os.path.basename(path)[:-len(".json")]
        seen[name] = os.path.exists(path)  # What the script finds when it starts.
        _document(tmp_path, monkeypatch, name=name)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(run_all.subprocess, "run", fake_subprocess)
    args = argparse.Namespace(quick=False, full=True, reference=str(tmp_path))
    for resumable, name in ((True, "recipe"), (False, "latency")):
        _document(tmp_path, monkeypatch, name=name)  # An earlier run's document.
        benchmark = run_all.Benchmark(name, quick=None, full=[], resumable=resumable)
        assert run_all.run_benchmark(benchmark, args, str(tmp_path))["benchmark"] == name
    assert seen == {"recipe": True, "latency": False}
    registered = {b.name: b for b in run_all.BENCHMARKS}
    assert registered["small_budget_recipe"].resumable
    assert not registered["serving_latency"].resumable


def test_results_md_holds_exactly_the_tables_of_the_committed_json():
    """No number between RESULTS.md's markers is edited by hand: they are the tables that
    `run_all --tables benchmarks/out/full` makes from the committed documents."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    full = os.path.join(root, "benchmarks", "out", "full")
    with open(os.path.join(root, "benchmarks", "RESULTS.md"), encoding="utf-8") as f:
        text = f.read()
    generated = run_all.tables(run_all.load_documents(full)).rstrip("\n")
    start, end = text.index(run_all.BEGIN), text.index(run_all.END) + len(run_all.END)
    assert text[start:end] == generated
