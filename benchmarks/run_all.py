"""Runs the benchmarks and regenerates RESULTS.md's tables from their JSON alone.

    python -m benchmarks.run_all --quick     # tiny sizes, 3 rounds: <= 15 min on 2 cores (CI)
    python -m benchmarks.run_all --full      # the sizes RESULTS.md shows
    python -m benchmarks.run_all --tables benchmarks/out/full   # tables only, from JSON there
    python -m benchmarks.run_all --quick --only serving_latency,accelerator
    python -m benchmarks.run_all --tables benchmarks/out/full --results benchmarks/RESULTS.md

Each benchmark runs as its own process and writes one JSON document in `benchmarks.harness`'
schema to `benchmarks/out/{quick,full}/<name>.json`; then `results_tables.md` in the same folder
is written from those documents and nothing else (no number is copied by hand). A benchmark that
needs what this machine lacks (the data `../shared/data/fetch.sh` fetches, a clone of
google-research/albert) is not run: its JSON says it was skipped and why. `--quick` never
touches the network: it only looks for data already fetched. A benchmark that fails is
reported in the tables with the end of its output, and the command exits non-zero.
`--results FILE` also replaces the text between `BEGIN` and `END` in FILE (RESULTS.md) with the
tables; FILE must hold both markers, nothing outside them is touched.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import subprocess
import sys
import time
from typing import Any, Callable, Mapping, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.harness import (VERDICT_RULE, BenchmarkResult, check_result,  # noqa: E402
                                repo_relative)

BEGIN, END = "<!-- run_all: begin generated tables -->", "<!-- run_all: end generated tables -->"


def data_dir() -> str:
    """Where `../shared/data/fetch.sh` puts its data (the same default as that script)."""
    return os.environ.get("ALBERT_KERAS_DATA",
                          os.path.join(os.path.expanduser("~"), ".cache", "albert-keras-data"))


def needs_shakespeare(args: argparse.Namespace) -> str | None:
    """None when the fetched plays are here (or may be fetched: --full); else why not."""
    if args.full or glob.glob(os.path.join(data_dir(), "corpus", "shakespeare", "*.txt")):
        return None
    return (f"no Shakespeare plays under {data_dir()}/corpus (run ../shared/data/fetch.sh; "
            "--quick never downloads)")


def needs_reference(args: argparse.Namespace) -> str | None:
    """None when a google-research/albert clone is at --reference; else why not."""
    reason = needs_shakespeare(args)
    if reason:
        return reason
    if os.path.isfile(os.path.join(args.reference, "create_pretraining_data.py")):
        return None
    return (f"no google-research/albert clone at {args.reference} (git clone "
            "https://github.com/google-research/albert there, or pass --reference)")


def needs_minilm(args: argparse.Namespace) -> str | None:
    """None when the fetched MiniLM and labelled data are here (or may be fetched: --full)."""
    if args.full or os.path.isfile(os.path.join(data_dir(), "minilm", "model.safetensors")):
        return None
    return f"no MiniLM under {data_dir()}/minilm (run ../shared/data/fetch.sh)"


def needs_accelerator(args: argparse.Namespace) -> str | None:
    """None in --quick (tiny, on any device) or when TensorFlow sees a GPU/TPU; else why not."""
    from benchmarks.harness import default_device

    if args.quick or default_device() != "CPU":
        return None
    return ("no GPU or TPU: the full grid (bert_base, albert_base, albert_large at 128 and 512) "
            "would take hours on a CPU; --quick runs it at tiny size")


@dataclasses.dataclass(frozen=True)
class Benchmark:
    """One benchmark script and its arguments in each mode.

    Args:
        name: str. The script's name under `benchmarks/` (and its JSON's).
        quick: sequence of str, or None. Arguments in `--quick` mode; None: `--full` only (too
            long for the quick budget), recorded as skipped in `--quick`.
        full: sequence of str. Arguments in `--full` mode.
        needs: callable or None. Given the parsed arguments, returns why the benchmark cannot
            run here (a str), or None when it can. Defaults to None.
        script: str or None. The script under `benchmarks/` when it is not `name` (one script
            measured at two sizes, each with its own JSON). Defaults to None.
        resumable: bool. The script keeps its finished runs in its JSON and goes on from them:
            the document is not removed before it runs (a failed run still fails the command).
            Defaults to False.
    """

    name: str
    quick: Sequence[str] | None
    full: Sequence[str]
    needs: Callable[[argparse.Namespace], str | None] | None = None
    script: str | None = None
    resumable: bool = False


BENCHMARKS = (
    Benchmark("serving_latency", quick=["--quick", "--rounds", "3"], full=["--rounds", "5"]),
    Benchmark("train_step_throughput",
              quick=["--small", "--models", "albert_base", "--rounds", "3", "--steps", "3",
                     "--warmup-steps", "1"],
              full=["--precisions", "float32,auto", "--rounds", "5"]),
    # XLA off is the path train_step_throughput --quick runs; here XLA on, to stay in budget.
    Benchmark("accelerator", quick=["--quick", "--xla", "on"], full=[],
              needs=needs_accelerator),
    Benchmark("prepare_runners", quick=["--quick", "--rounds", "3"], full=["--rounds", "3"],
              needs=needs_shakespeare),
    Benchmark("prepare_vs_reference", quick=["--quick", "--rounds", "3"],
              full=["--rounds", "3"], needs=needs_reference),
    # The 42 plays ten times over (50 MB): about 15 minutes a reference run on 2 cores.
    Benchmark("prepare_vs_reference_10_copies", quick=None, full=["--rounds", "3", "--copies", "10"],
              needs=needs_reference, script="prepare_vs_reference"),
    Benchmark("prepare_throughput", quick=["--quick", "--lengths", "128,512", "--rounds", "3"],
              full=["--rounds", "3"], needs=needs_shakespeare),
    Benchmark("reader_throughput", quick=["--quick", "--batch-size", "8", "--rounds", "3"],
              full=["--rounds", "3"], needs=needs_shakespeare),
    Benchmark("quickstart_precision", quick=None, full=["--rounds", "3"]),
    # The README's main job in the precision `auto` picks here, and in float32 wherever it runs.
    Benchmark("quickstart_time", quick=["--quick", "--rounds", "3"], full=["--rounds", "3"]),
    Benchmark("quickstart_time_float32", quick=None, full=[
        "--rounds", "3", "--set", "train.precision=float32"], script="quickstart_time"),
    Benchmark("portable_formats", quick=None, full=["--rounds", "5"], needs=needs_minilm),
    # `compare`'s default once per pretraining seed, in the precision `auto` picks here: 20-28
    # minutes a seed where bfloat16 is native, 80 in float32 on a 2-core AVX2 CPU. Finished
    # seeds are kept in runs/ and in the JSON (each run's report), so a stopped series goes on,
    # also on another machine of the same precision.
    Benchmark("compare_seeds", quick=None, full=["--seeds", "0", "1", "2", "3", "4"],
              resumable=True),
    # The same series in float32 wherever it runs (what a CPU without native bfloat16 trains).
    Benchmark("compare_seeds_float32", quick=None, full=[
        "--seeds", "0", "1", "2", "3", "4", "--name", "compare_float32",
        "--set", "train.precision=float32"], script="compare_seeds", resumable=True),
    # MiniLM-L6 fine-tuned on real labelled data (issue 7): against bag-of-words over seeds,
    # POS tagging, length bucketing in rounds; and the bf16 accuracy gate (issue 16).
    Benchmark("finetune_real_data", quick=None, full=["--seeds", "0,1,2"], needs=needs_minilm),
    Benchmark("finetune_precision_gate", quick=None, full=[
        "--precision-gate", "--seeds", "0,1,2", "--epochs", "2"], needs=needs_minilm,
              script="finetune_real_data"),
    # MiniLM continued on a labelled CSV's training text, then fine-tuned, against MiniLM
    # fine-tuned directly (issue 24, "Adaptation"): the settings RESULTS shows for each CSV.
    # Hours in float32 on a 2-core AVX2 CPU; the finished work stays in
    # benchmarks/out/adaptation/<csv>/progress.json, so a stopped run goes on when started again.
    Benchmark("adaptation_spam", quick=None, full=["--csv", "spam.csv", "--steps", "300"],
              needs=needs_minilm, script="adaptation"),
    Benchmark("adaptation_uncertainty", quick=None, full=[
        "--csv", "uncertainty.csv", "--steps", "300", "--max-sequence-length", "64",
        "--epochs", "2", "--learning-rates", "1e-4"], needs=needs_minilm, script="adaptation"),
    # The quickstart's recipe ablation (issue 24) at the current defaults, with the downstream
    # protocol per run: about 40 minutes a run on a 2-core AVX2 CPU, 50 runs; finished runs are
    # kept in its JSON, so `--only small_budget_recipe` may be stopped and started again.
    Benchmark("small_budget_recipe", quick=None, full=[
        "--variants", "baseline", "lamb_1e-2", "adamw_1e-3", "warmup_250", "dropout_0.1",
        "mask_25", "minutes_3.5", "step_schedule_minutes_3.5", "narrow_minutes_3.5",
        "wide_minutes_3.5", "--seeds", "0", "1", "2", "3", "4", "--downstream"],
              resumable=True),
    # The time-fitted schedule against the step schedule of the same minutes (issue 24's
    # "warmup and decay fitted to a time budget"): 10 runs of ~5 minutes; the time budget
    # makes the steps depend on the machine's speed, so run it on a quiet machine.
    Benchmark("small_budget_recipe_schedule", quick=None, full=[
        "--variants", "step_schedule_minutes_3.5", "--seeds", "0", "1", "2", "3", "4"],
              script="small_budget_recipe", resumable=True),  # and its reference, minutes_3.5
)


def run_benchmark(benchmark: Benchmark, args: argparse.Namespace, out_dir: str) -> dict:
    """Runs one benchmark (or records why it cannot run); returns its JSON document."""
    path = os.path.join(out_dir, f"{benchmark.name}.json")
    reason = benchmark.needs(args) if benchmark.needs else None
    if args.quick and benchmark.quick is None:
        reason = "--full only: too long for --quick's 15-minute budget"
    if reason:
        result = BenchmarkResult(benchmark.name, settings={"mode": _mode(args)})
        result.skip(reason)
        print(f"{benchmark.name}: skipped: {reason}", flush=True)
        return result.write(path, matmul=False)
    script = benchmark.script or benchmark.name
    command = [sys.executable, os.path.join(ROOT, "benchmarks", f"{script}.py"),
               *(benchmark.quick if args.quick else benchmark.full), "--out", path]
    if script == "prepare_vs_reference":
        command += ["--reference", args.reference]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": os.pathsep.join(
        p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
    print(f"{benchmark.name}: {' '.join(command[1:])}", flush=True)
    start = time.perf_counter()
    if os.path.exists(path) and not benchmark.resumable:
        os.remove(path)  # A stale document must not pass for this run's.
    process = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    seconds = time.perf_counter() - start
    if process.returncode or not os.path.isfile(path):
        tail = (process.stdout + process.stderr)[-3000:]
        print(f"{benchmark.name}: FAILED ({process.returncode}) after {seconds:.0f} s\n{tail}",
              flush=True)
        return {"benchmark": benchmark.name, "failed": process.returncode or "no JSON",
                "output_tail": tail, "wall_seconds": round(seconds, 1)}
    print(f"{benchmark.name}: {seconds:.0f} s", flush=True)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_documents(out_dir: str) -> list[dict]:
    """The harness documents in `out_dir` (by file name), each checked against the schema."""
    documents = []
    for path in sorted(glob.glob(os.path.join(out_dir, "*.json"))):
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
        if document.get("schema"):
            check_result(document)
            documents.append(document)
    return documents


def format_value(value: float, unit: str) -> str:
    """A figure in readable units: bytes in MiB, FLOP/s in GFLOP/s, 4 significant digits."""
    if unit == "bytes":
        return f"{value / 2**20:,.0f} MiB"
    if unit == "FLOP/s":
        return f"{value / 1e9:,.1f} GFLOP/s"
    if unit == "fraction":
        return f"{100 * value:.1f}%"
    if abs(value) >= 1000:
        return f"{value:,.0f} {unit}".rstrip()
    return f"{value:.4g} {unit}".rstrip()


def machine_line(fingerprint: Mapping[str, Any]) -> str:
    """One line: CPU, cores, load before/after, versions, matmul limits of the run."""
    versions = fingerprint["versions"]
    parts = [f"{fingerprint['cpu_model']}, {fingerprint['cpu_count']} cores "
             f"({fingerprint['cpu_affinity']} usable)",
             f"load {_load(fingerprint['load_average_before'])} before, "
             f"{_load(fingerprint['load_average_after'])} after",
             f"Python {fingerprint['python']}, TF {versions.get('tensorflow')}, "
             f"Keras {versions.get('keras')}, keras-hub {versions.get('keras-hub')}"]
    for dtype, limit in (fingerprint.get("matmul_limits") or {}).items():
        parts.append(f"{dtype} matmul limit {format_value(limit['median'], 'FLOP/s')} "
                     f"({limit['min'] / 1e9:,.1f}-{limit['max'] / 1e9:,.1f}, "
                     f"{limit.get('device', '?')})")
    bf16 = [f for f in fingerprint["cpu_flags"] if "bf16" in f]
    parts.append("bf16 CPU flags: " + (", ".join(bf16) if bf16 else "none"))
    return "; ".join(parts)


def tables(documents: Sequence[Mapping[str, Any]], failures: Sequence[Mapping] = ()) -> str:
    """Markdown tables of every document, between `BEGIN` and `END`, from the JSON alone."""
    lines = [BEGIN, "", f"Verdict rule (every comparison): {VERDICT_RULE}", ""]
    for document in documents:
        lines.append(f"### {document['benchmark']}")
        lines.append("")
        command = " ".join(repo_relative(document["command"]))
        over = document["settings"].get("values_over", "alternated rounds")
        lines.append(f"`python {command}` · {document['started']} · "
                     f"{document['rounds']} {over} · {document['wall_seconds']:.0f} s")
        lines.append("")
        if document["skipped"]:
            lines += [f"Not run: {document['skipped']}", ""]
            continue
        lines.append(f"Machine: {machine_line(document['fingerprint'])}")
        lines.append("")
        if document["figures"]:
            lines += ["| figure | precision | device | median | min-max | over |",
                      "|---|---|---|---|---|---|"]
            for name, figure in document["figures"].items():
                unit = figure["unit"]
                # A figure's values are its rounds, or (scores) its seeds: `over` says which.
                lines.append(
                    f"| {name} | {figure['precision']} | {figure['device']} | "
                    f"{format_value(figure['median'], unit)} | "
                    f"{format_value(figure['min'], unit)} - {format_value(figure['max'], unit)} "
                    f"| {len(figure['rounds'])} {figure.get('over', 'rounds')} |")
            lines.append("")
        if document["comparisons"]:
            lines += ["| comparison (A vs B) | speed ratio A/B, median | min-max | verdict |",
                      "|---|---|---|---|"]
            for name, comparison in document["comparisons"].items():
                lines.append(f"| {name} | {comparison['median']:.3f} | "
                             f"{comparison['min']:.3f} - {comparison['max']:.3f} | "
                             f"{comparison['verdict']} |")
            lines.append("")
        gains = document.get("gains", {})
        if gains:
            lines += [f"Gain rule: {next(iter(gains.values()))['rule']}", "",
                      "| gain | unit | precision | device | median | min-max | seeds > 0 | "
                      "verdict |", "|---|---|---|---|---|---|---|---|"]
            for name, gain in gains.items():
                lines.append(
                    f"| {name} | {gain['unit']} | {gain['precision']} | {gain['device']} | "
                    f"{gain['median']:+.3f} | {gain['min']:+.3f} - {gain['max']:+.3f} | "
                    f"{gain['positive_seeds']} of {len(gain['values'])} {gain['over']} | "
                    f"{gain['verdict']} |")
            lines.append("")
        lines += [f"Note: {note}" for note in document["notes"]]
        if document["notes"]:
            lines.append("")
    for failure in failures:
        lines += [f"### {failure['benchmark']}", "",
                  f"FAILED ({failure['failed']}); the end of its output:", "", "```",
                  failure["output_tail"][-1500:], "```", ""]
    lines.append(END)
    return "\n".join(lines) + "\n"


def splice(text: str, generated: str) -> str:
    """`text` with the part from `BEGIN` to `END` (both included) replaced by `generated`."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"The results file must hold {BEGIN!r} and then {END!r}; "
                         f"found begin at {start}, end at {end}.")
    return text[:start] + generated.rstrip("\n") + text[end + len(END):]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_true", help="tiny sizes, 3 rounds (CI)")
    mode.add_argument("--full", action="store_true", help="the sizes RESULTS.md shows")
    mode.add_argument("--tables", metavar="DIR", help="only regenerate DIR/results_tables.md")
    parser.add_argument("--only", help="comma-separated benchmark names (default: all); the "
                        "tables still show every benchmark's latest JSON in the folder")
    parser.add_argument("--reference", default=os.path.join(ROOT, "..", "albert-reference"),
                        help="a clone of google-research/albert, for prepare_vs_reference")
    parser.add_argument("--out-dir", help="default: benchmarks/out/quick or benchmarks/out/full")
    parser.add_argument("--results", help="also splice the tables into this file (RESULTS.md) "
                        "between its run_all markers")
    args = parser.parse_args(argv)
    if args.tables:
        return _write_tables(args.tables, load_documents(args.tables), [], args.results)

    out_dir = args.out_dir or os.path.join(ROOT, "benchmarks", "out", _mode(args))
    os.makedirs(out_dir, exist_ok=True)
    names = args.only.split(",") if args.only else [b.name for b in BENCHMARKS]
    unknown = set(names) - {b.name for b in BENCHMARKS}
    if unknown:
        parser.error(f"--only: unknown benchmarks {sorted(unknown)}. Choose from "
                     f"{[b.name for b in BENCHMARKS]}")
    start = time.perf_counter()
    failures = []
    for benchmark in BENCHMARKS:
        if benchmark.name in names:
            document = run_benchmark(benchmark, args, out_dir)
            if "failed" in document:
                failures.append(document)
    print(f"all benchmarks: {time.perf_counter() - start:.0f} s", flush=True)
    # Every document in the folder, not only this run's: `--only` measures some benchmarks
    # again and the tables keep the others' latest results.
    documents = load_documents(out_dir)
    _write_tables(out_dir, documents, failures, args.results)
    return 1 if failures else 0


def _write_tables(out_dir: str, documents: list[dict], failures: list[dict],
                  results: str | None = None) -> int:
    generated = tables(documents, failures)
    path = os.path.join(out_dir, "results_tables.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(generated)
    print(f"tables: {path}")
    if results:
        with open(results, encoding="utf-8") as f:
            text = splice(f.read(), generated)
        with open(results, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"spliced into {results}")
    return 0


def _mode(args: argparse.Namespace) -> str:
    return "quick" if args.quick else "full"


def _load(values: Sequence[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values) if values else "?"


if __name__ == "__main__":
    sys.exit(main())
