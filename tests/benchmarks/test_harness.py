"""The benchmark harness: its rounds rule (the package's, `tests/utils/test_rounds.py`), per-round
ratios of its figures, the JSON it writes.

Properties only, on synthetic rounds: nothing here times anything or asserts a speed.
"""

import json
import os

import numpy as np
import pytest

from benchmarks import harness


def test_the_rounds_rule_is_the_packages_one_definition():
    from albert_keras.utils import rounds

    for name in ("MIN_ROUNDS", "VERDICT_RULE", "VERDICTS", "BETTER", "alternated_order",
                 "run_rounds", "summarize", "speed_ratios", "verdict"):
        assert getattr(harness, name) is getattr(rounds, name), name


def test_ratio_of_medians_is_not_the_median_of_ratios():
    # Per-round ratios: 2, 0.5, 0.5 -> median 0.5, while the medians' ratio would be 1.
    result = harness.BenchmarkResult("demo")
    result.add_figure("a", [4.0, 1.0, 2.0], unit="x/s", device="CPU")
    result.add_figure("b", [2.0, 2.0, 4.0], unit="x/s", device="CPU")
    comparison = result.add_comparison("a vs b", "a", "b")
    assert comparison["speed_ratio_rounds"] == [2.0, 0.5, 0.5]
    assert comparison["median"] == 0.5
    assert comparison["verdict"] == "cannot conclude"


def test_lower_is_better_comparison_says_faster_when_times_are_smaller():
    result = harness.BenchmarkResult("demo")
    result.add_figure("a ms", [1.0, 1.1, 0.9], unit="ms", better="lower", device="CPU")
    result.add_figure("b ms", [2.0, 2.2, 1.8], unit="ms", better="lower", device="CPU")
    assert result.add_comparison("a vs b", "a ms", "b ms")["verdict"] == "faster"
    assert result.add_comparison("b vs a", "b ms", "a ms")["verdict"] == "slower"
    result.add_figure("c/s", [1.0, 1.0, 1.0], unit="x/s", device="CPU")
    with pytest.raises(ValueError, match="disagree"):
        result.add_comparison("mixed", "a ms", "c/s")


def test_written_json_has_the_schema_rule_and_fingerprint(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "matmul_limits", lambda: {"float32": {"median": 1.0}})
    result = harness.BenchmarkResult("demo", settings={"size": 4}, rounds=3)
    result.add_figure("a", [1.0, 2.0, 3.0], unit="x/s", precision="mixed_bfloat16", device="CPU")
    result.add_figure("b", [1.0, 1.0, 1.0], unit="x/s", device="CPU")
    result.add_comparison("a vs b", "a", "b")
    result.note("a note")
    path = os.path.join(tmp_path, "sub", "demo.json")
    result.write(path)
    with open(path, encoding="utf-8") as f:
        document = json.load(f)
    harness.check_result(document)
    assert set(harness.REQUIRED_KEYS) <= set(document)
    assert document["verdict_rule"] == harness.VERDICT_RULE
    assert "cannot conclude" in document["verdict_rule"]
    figure = document["figures"]["a"]
    assert (figure["precision"], figure["device"]) == ("mixed_bfloat16", "CPU")
    assert figure["median"] == 2.0
    assert document["comparisons"]["a vs b"]["verdict"] == "cannot conclude"  # Round 1 ties.
    fingerprint = document["fingerprint"]
    assert set(harness.FINGERPRINT_KEYS) <= set(fingerprint)
    assert fingerprint["cpu_count"] >= 1
    assert len(fingerprint["load_average_before"]) == 3
    assert len(fingerprint["load_average_after"]) == 3
    assert {"tensorflow", "keras", "keras-hub"} <= set(fingerprint["versions"])
    assert fingerprint["versions"]["tensorflow"]
    assert fingerprint["matmul_limits"] == {"float32": {"median": 1.0}}
    assert not [key for key in _keys(document) if "best" in key or "fastest" in key]


def test_a_document_made_after_its_work_keeps_the_start_of_the_work(monkeypatch):
    """`started`, `wall_seconds` and the load before come from the `RunStart` taken when the
    work began, not from when the document was put together."""
    now = [100.0]
    loads = iter([[1.0, 1.0, 1.0], [5.0, 5.0, 5.0], [7.0, 7.0, 7.0], [8.0, 8.0, 8.0]])
    monkeypatch.setattr(harness.time, "perf_counter", lambda: now[0])
    monkeypatch.setattr(harness, "load_average", lambda: next(loads))
    start = harness.run_start()
    now[0] = 700.0  # ten minutes of work
    late = harness.BenchmarkResult("demo", start=start)
    late.add_figure("a", [1.0, 2.0, 3.0], unit="s", device="CPU")
    document = late.to_dict(matmul=False)
    assert document["wall_seconds"] == 600.0 and document["started"] == start.started
    fingerprint = document["fingerprint"]
    assert fingerprint["load_average_before"] == [1.0, 1.0, 1.0]
    assert fingerprint["load_average_after"] == [5.0, 5.0, 5.0]
    # Without a start, the document's own creation is the start.
    now_made = harness.BenchmarkResult("demo").to_dict(matmul=False)
    assert now_made["wall_seconds"] == 0.0
    assert now_made["fingerprint"]["load_average_before"] == [7.0, 7.0, 7.0]


def _keys(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)


def test_recorded_command_holds_no_path_of_the_machine(tmp_path, monkeypatch):
    repo, parent = harness.REPO, os.path.dirname(harness.REPO)
    argv = [os.path.join(repo, "benchmarks", "demo.py"), "--rounds", "3",
            "--out", os.path.join(repo, "benchmarks", "out", "full", "demo.json"),
            "--reference", os.path.join(repo, "..", "albert-reference"), "--data", "/elsewhere/x"]
    assert harness.repo_relative(argv) == [
        os.path.join("benchmarks", "demo.py"), "--rounds", "3",
        "--out", os.path.join("benchmarks", "out", "full", "demo.json"),
        "--reference", os.path.join("..", "albert-reference"), "--data", "/elsewhere/x"]
    monkeypatch.setattr(harness, "matmul_limits", lambda: {"float32": {"median": 1.0}})
    monkeypatch.setattr(harness.sys, "argv", argv)
    document = harness.BenchmarkResult("demo", rounds=3).write(str(tmp_path / "demo.json"))
    assert not [part for part in document["command"] if part.startswith((repo, parent + os.sep))]


def test_a_write_that_fails_leaves_the_previous_result_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "matmul_limits", lambda: {"float32": {"median": 1.0}})
    path = str(tmp_path / "demo.json")
    harness.BenchmarkResult("demo", settings={"size": 4}, rounds=3).write(path)
    before = open(path, encoding="utf-8").read()
    broken = harness.BenchmarkResult("demo", settings={"size": object()}, rounds=3)
    with pytest.raises(TypeError):  # Not JSON: fails while writing.
        broken.write(path)
    assert open(path, encoding="utf-8").read() == before
    assert os.listdir(tmp_path) == ["demo.json"]


def test_check_result_names_what_is_wrong():
    document = harness.BenchmarkResult("demo").to_dict(matmul=False)
    harness.check_result(document)
    with pytest.raises(ValueError, match="figures"):
        harness.check_result({k: v for k, v in document.items() if k != "figures"})
    document["comparisons"] = {"x": {key: 1 for key in harness.COMPARISON_KEYS}}
    with pytest.raises(ValueError, match="verdict"):
        harness.check_result(document)


@pytest.mark.parametrize("seed", range(6))
def test_gains_over_seeds_follow_the_downstream_protocol(seed):
    from albert_keras.jobs.downstream_protocol import paired_gain

    rng = np.random.default_rng(seed)
    values = rng.normal(0.01, 0.03, int(rng.integers(1, 8))).round(3).tolist()
    result = harness.BenchmarkResult("demo", settings={"values_over": "seeds"})
    gain = result.add_gain("g", values, unit="test accuracy", over="seeds", device="CPU")
    expected = paired_gain(values, [0.0] * len(values))
    assert {k: gain[k] for k in expected} == expected
    assert gain["rule"] == harness.GAIN_RULE and gain["over"] == "seeds"
    document = result.to_dict(matmul=False)
    harness.check_result(document)
    assert document["gains"]["g"]["verdict"] in harness.GAIN_VERDICTS
    document["gains"]["g"]["verdict"] = "faster"  # A speed verdict is not a gain's.
    with pytest.raises(ValueError, match="Gain 'g'.*verdict.*'faster'"):
        harness.check_result(document)
    del document["gains"]["g"]["rule"]
    with pytest.raises(ValueError, match=r"Gain 'g' lacks keys \['rule'\]"):
        harness.check_result(document)
    # Documents without gains (every speed benchmark) carry no `gains` key at all.
    assert "gains" not in harness.BenchmarkResult("speed").to_dict(matmul=False)


def test_cpu_description_reads_model_and_relevant_flags(tmp_path):
    path = os.path.join(tmp_path, "cpuinfo")
    with open(path, "w", encoding="utf-8") as f:
        f.write("processor\t: 0\nmodel name\t: Test CPU 9000\n"
                "flags\t\t: fpu avx2 avx512_bf16 amx_bf16 fma sse4_2 ht\n")
    model, flags = harness.cpu_description(path)
    assert model == "Test CPU 9000"
    assert flags == ["amx_bf16", "avx2", "avx512_bf16", "fma", "sse4_2"]


@pytest.mark.large
def test_matmul_limits_measure_both_precisions():
    limits = harness.matmul_limits(size=(64, 64, 64), iterations=2, rounds=3)
    assert set(limits) == {"float32", "bfloat16"}
    for limit in limits.values():
        assert len(limit["rounds"]) == 3
        assert limit["min"] <= limit["median"] <= limit["max"]
        assert limit["shape"] == [64, 64, 64]


def test_benchmark_result_docstring_example_runs_as_written():
    import re

    example = re.search(r"```python\n(.*?)```", harness.BenchmarkResult.__doc__, re.DOTALL)[1]
    namespace = {"BenchmarkResult": harness.BenchmarkResult}
    exec(compile("\n".join(line[4:] for line in example.splitlines()), "example", "exec"),
         namespace)
    assert namespace["result"].comparisons["a vs b"]["verdict"] == "faster"


def test_print_summary_gives_each_figure_and_comparison(capsys):
    result = harness.BenchmarkResult("demo")
    result.add_figure("a", [1.0, 3.0, 2.0], unit="ms", better="lower")
    result.add_figure("b", [2.0, 4.0, 4.0], unit="ms", better="lower")
    result.add_comparison("a vs b", "a", "b")
    result.print_summary()
    printed = capsys.readouterr().out
    assert "  a: 2 (1-3) ms" in printed and "  b: 4 (2-4) ms" in printed
    assert "  a vs b: speed ratio 2.000 (1.333-2.000): faster" in printed
    result.print_summary(comparisons=False)
    assert "speed ratio" not in capsys.readouterr().out
