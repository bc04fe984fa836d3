"""`compare` over pretraining seeds: its scores as medians over ≥ 5 pretraining runs (issue 24).

One `albert-keras compare` run pretrains each arm once (`train.seed`) and fine-tunes it over
several seeds (`compare.downstream_seeds`): its downstream verdict says how sure we are about
*that* pretrained encoder, not about the recipe. This script runs the same comparison once per
pretraining seed (`--set train.seed=S`; seed 0 runs in `<output-dir>/<name>`, the pipeline's own
run folder, seed S in `<output-dir>/seed<S>/<name>`: the pipeline's `name` stays, so every seed
trains on the same records, `tf_records/<name>`, made once by the series' first run) and
summarises per arm:

- held-out MLM loss and accuracy and the pair task's accuracy at the last step: median
  [min, max] over pretraining seeds, against the goals of issue 24 (MLM accuracy ≥ 0.14,
  ALBERT's SOP ≥ 0.65);
- the downstream paired gain (pretrained − random-init twin, test split): per pretraining
  seed its median over the fine-tuning seeds, then over pretraining seeds the median [min,
  max] of those, with the verdict of `albert_keras/jobs/downstream_protocol.py` ("gain" when
  the median is above 0 and at least 80% of pretraining seeds gain); and the same rule over
  every (pretraining seed, fine-tuning seed) pair pooled;
- what the arms cost, where the reports have `compare`'s speed stage: each arm's training
  tokens/s over every speed round of every run (the rounds alternate the arms, so each arm
  against the reference arm is judged round by round with the harness' rule), and its
  training memory over pretraining seeds; each run's wall time and its records stage (the
  series' first run makes the records, the others find and check them) over pretraining seeds
  (a run resumed after a kill times its last part alone).

    .venv/bin/python benchmarks/compare_seeds.py --seeds 0 1 2 3 4          # runs what is missing
    .venv/bin/python benchmarks/compare_seeds.py --runs runs/compare runs/seed1/compare ...

Runs whose `report.json` exists are not run again (the scores are deterministic for a seed), so
an interrupted series goes on where it stopped. The document is written after each run and keeps
every run's report (`details.reports`), so a series also goes on from its document alone, on
another machine: a seed the `--out` document keeps is not run again (where its run folder here
has a report, that one is used; `--runs` also takes documents). The runs must differ in
`train.seed` only: any other difference in budget or shared settings (precision included: `auto`
resolves per machine) is an error naming the run. Writes one `benchmarks.harness` document to
`--out` (default `benchmarks/out/compare_seeds.json`, the benchmark named after the file): each
score a figure over pretraining seeds, each downstream gain with the protocol's verdict, the
whole summary under `details`; `python -m benchmarks.run_all --full --only compare_seeds` runs
it and regenerates RESULTS.md's tables from it. Prints a markdown table. Precision: the
pipeline's (`auto`: bfloat16 on CPUs with avx512_bf16/amx_bf16).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any, Callable, Mapping, Sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from albert_keras.jobs.downstream_protocol import paired_gain, summary  # noqa: E402
from benchmarks.harness import (BenchmarkResult, RunStart, document_name,  # noqa: E402
                               repo_relative, run_start)

SCORES = ("mlm_loss", "mlm_accuracy", "pair_accuracy")
SCORE_NAMES = {"mlm_loss": "MLM loss", "mlm_accuracy": "MLM accuracy",
               "pair_accuracy": "pair-task accuracy"}
GOALS = {"mlm_accuracy": 0.14, "pair_accuracy": 0.65}  # issue 24 (SOP: the ALBERT arm)
# What may differ between the runs of one series: their names, times, machines and seeds (and
# how `precision: auto` put its choice on each machine; the choice itself must agree).
_PER_RUN_SHARED = ("seed", "records", "precision_reason")


def seed_output_dir(output_dir: str, seed: int) -> str:
    """`compare.output_dir` for one pretraining seed: seed 0 runs where the pipeline's own run
    does, seed S under `seed<S>/`. The pipeline's `name` is never changed, since it also names
    the records' folder (`tf_records/<name>`) that every seed shares."""
    return output_dir if seed == 0 else os.path.join(output_dir, f"seed{seed}")


def run_folder(output_dir: str, name: str, seed: int) -> str:
    """The run folder of one pretraining seed (`compare` writes `<compare.output_dir>/<name>`)."""
    return os.path.join(seed_output_dir(output_dir, seed), name)


def launch(config: str, seed: int, name: str, output_dir: str, overrides: Sequence[str]) -> str:
    """Runs one `compare` for a pretraining seed unless its report exists; returns its folder."""
    folder = run_folder(output_dir, name, seed)
    if os.path.exists(os.path.join(folder, "report.json")):
        print(f"seed {seed}: {folder}/report.json exists, kept", flush=True)
        return folder
    command = [sys.executable, "-m", "albert_keras.cli", "compare", "--config", config,
               "--set", f"train.seed={seed}", "--set", f"name={name}",
               "--set", f"compare.output_dir={seed_output_dir(output_dir, seed)}"]
    for override in overrides:
        command += ["--set", override]
    print("$ " + " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO)
    return folder


def read_report(folder: str) -> dict:
    """One finished run's `report.json`."""
    path = os.path.join(folder, "report.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"No report.json in run folder {folder!r}: is the compare "
                                "run finished?")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def kept_reports(document_path: str) -> list[dict]:
    """The runs' reports an earlier series document keeps (`details.reports`), in its order;
    [] when there is no such document. A series goes on from them on another machine, where
    the run folders are gone."""
    if not os.path.exists(document_path):
        return []
    with open(document_path, encoding="utf-8") as f:
        document = json.load(f)
    if document.get("benchmark") is None or "details" not in document:
        raise ValueError(f"{document_path!r} is not a compare_seeds document (no `benchmark` "
                         "and `details`)")
    return list((document["details"] or {}).get("reports", []))


def load_reports(sources: Sequence[str]) -> list[dict]:
    """The runs' reports from run folders or series documents (`*.json`: every report it
    keeps), checked to differ only in `train.seed`."""
    reports, names = [], []
    for source in sources:
        if source.endswith(".json"):
            kept = kept_reports(source)
            if not kept:
                raise ValueError(f"Series document {source!r} keeps no run reports (documents "
                                 "made before `details.reports` existed cannot be extended)")
            reports += kept
            names += [f"{source} (seed {r['shared']['seed']})" for r in kept]
        else:
            reports.append(read_report(source))
            names.append(source)
    check_reports(names, reports)
    return reports


def check_reports(names: Sequence[str], reports: Sequence[Mapping[str, Any]]) -> None:
    """Refuses runs that differ in more than `train.seed` (each error names both runs)."""
    first = reports[0]
    for folder, report in zip(names, reports):
        if report["pair_task"] != first["pair_task"]:
            raise ValueError(f"Run {folder!r} differs from {names[0]!r} in `pair_task`: "
                             f"{report['pair_task']} vs {first['pair_task']}")
        for key in set(report["budget"]) | set(first["budget"]):
            # A setting an older report lacks counts as unset (`budget.phases`: []).
            mine, theirs = report["budget"].get(key), first["budget"].get(key)
            if mine != theirs and (mine or theirs):
                raise ValueError(f"Run {folder!r} differs from {names[0]!r} in `budget.{key}`: "
                                 f"{mine!r} vs {theirs!r}")
        for key, value in report["shared"].items():
            if key not in _PER_RUN_SHARED and value != first["shared"].get(key):
                raise ValueError(f"Run {folder!r} differs from {names[0]!r} in shared "
                                 f"setting `{key}`: {value!r} vs {first['shared'].get(key)!r}")
        if [a["name"] for a in report["arms"]] != [a["name"] for a in first["arms"]]:
            raise ValueError(f"Run {folder!r} has other arms than {names[0]!r}")
    seeds = [r["shared"]["seed"] for r in reports]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"The runs must have distinct train.seed values. Received: {seeds}")


def summarize_arms(reports: Sequence[Mapping[str, Any]]) -> dict[str, dict]:
    """Per arm: each score and the downstream gains over pretraining seeds (module docstring)."""
    arms = {}
    for index, first_arm in enumerate(reports[0]["arms"]):
        runs = [report["arms"][index] for report in reports]
        arm: dict[str, Any] = {"pretraining_seeds": [r["shared"]["seed"] for r in reports]}
        for score in SCORES:
            values = [run["final"][score] for run in runs]
            arm[score] = {"values": values, **summary(values)}
        if all(run.get("downstream") for run in runs):
            per_seed = [run["downstream"]["gain"]["median"] for run in runs]
            pooled_pretrained = [v for run in runs for v in run["downstream"]["pretrained"]["values"]]
            pooled_twin = [v for run in runs for v in run["downstream"]["random_init"]["values"]]
            first = runs[0]["downstream"]
            arm["downstream"] = {
                "unit": f"{first.get('split', 'test')} {first.get('metric', 'accuracy')}",
                "fine_tuning_seeds": first["seeds"],
                "pretrained_test": summary(pooled_pretrained),
                "random_init_test": summary(pooled_twin),
                # The rule over pretraining seeds: each seed's median gain is one value.
                "gain_over_pretraining_seeds": paired_gain(per_seed, [0.0] * len(per_seed)),
                "gain_pooled": paired_gain(pooled_pretrained, pooled_twin),
                "verdicts_per_pretraining_seed": [run["downstream"]["gain"]["verdict"]
                                                  for run in runs],
            }
        arms[first_arm["name"]] = arm
    return arms


def summarize_costs(reports: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The runs' speed rounds pooled per arm (run by run, in each run's round order), training
    memory per run, wall seconds per run; None when a report has no speed stage (made before
    `compare.speed_rounds` existed)."""
    if not all(report.get("speed") for report in reports):
        return None
    first = reports[0]["speed"]
    names = [arm["name"] for arm in reports[0]["arms"]]
    return {
        "precision": first["precision"], "device": first["device"], "unit": first["unit"],
        "reference": first["reference"],
        "rounds_per_run": [report["speed"]["rounds"] for report in reports],
        "tokens_per_second_rounds": {
            name: [value for report in reports for value in report["speed"]["arms"][name]["rounds"]]
            for name in names},
        "load_average_at_speed_stage": [[report["speed"]["load_average_before"],
                                         report["speed"]["load_average_after"]]
                                        for report in reports],
        "train_memory_mb": {name: [report["arms"][index]["train_memory_mb"] for report in reports]
                            for index, name in enumerate(names)},
        "wall_seconds": [report.get("wall_seconds", {}).get("total") for report in reports],
        "records_seconds": [report.get("wall_seconds", {}).get("records") for report in reports],
    }


def markdown(arms: Mapping[str, Mapping[str, Any]]) -> str:
    """One table row per arm: medians [min, max] over pretraining seeds."""
    def cell(stats: Mapping[str, float], digits: int = 3) -> str:
        return f"{stats['median']:.{digits}f} [{stats['min']:.{digits}f}, {stats['max']:.{digits}f}]"

    def gain(stats: Mapping[str, Any]) -> str:
        return (f"{stats['median']:+.3f} [{stats['min']:+.3f}, {stats['max']:+.3f}], "
                f"{stats['positive_seeds']}/{len(stats['values'])} ({stats['verdict']})")

    lines = ["| arm | seeds | MLM loss | MLM acc. | pair acc. | gain per pretraining seed "
             "| gain, every pair pooled |", "|---|---|---|---|---|---|---|"]
    for name, arm in arms.items():
        down = arm.get("downstream")
        lines.append(
            f"| {name} | {len(arm['pretraining_seeds'])} | {cell(arm['mlm_loss'])} | "
            f"{cell(arm['mlm_accuracy'])} | {cell(arm['pair_accuracy'])} | "
            f"{gain(down['gain_over_pretraining_seeds']) if down else '—'} | "
            f"{gain(down['gain_pooled']) if down else '—'} |")
    return "\n".join(lines)


def goal_lines(arms: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Each issue-24 goal, reached or not, on the medians."""
    lines = []
    for name, arm in arms.items():
        for score, goal in GOALS.items():
            median = arm[score]["median"]
            lines.append(f"{name}: held-out {score} median {median:.3f} "
                         f"{'>=' if median >= goal else '<'} {goal} "
                         f"({'reached' if median >= goal else 'not reached'})")
    return lines


def benchmark_result(folders: Sequence[str], reports: Sequence[Mapping[str, Any]],
                     arms: Mapping[str, Mapping[str, Any]],
                     name: str = "compare_seeds", start: RunStart | None = None) -> BenchmarkResult:
    """The series as one `benchmarks.harness` document: each score a figure over pretraining
    seeds, each downstream gain judged by the protocol's rule, each arm's speed and memory
    (`summarize_costs`), the goals and the runs' machine as notes, and `summarize_arms`' and
    `summarize_costs`' summaries and the runs' reports themselves as `details` (so the series
    can go on from this document where the run folders are gone)."""
    shared = reports[0]["shared"]
    precision = shared.get("precision", "float32")
    machine = reports[0].get("machine", {})
    device = "GPU" if machine.get("gpus") else "CPU"
    over = "pretraining seeds"
    result = BenchmarkResult(name, rounds=len(reports), start=start, settings={
        "values_over": over, "pretraining_seeds": [r["shared"]["seed"] for r in reports],
        "budget": reports[0]["budget"], "goals": GOALS,
        "shared": {k: v for k, v in shared.items() if k not in _PER_RUN_SHARED}})
    for name, arm in arms.items():
        for score in SCORES:
            result.add_figure(f"{name} held-out {SCORE_NAMES[score]}", arm[score]["values"],
                              unit="", better="lower" if score.endswith("loss") else "higher",
                              precision=precision, device=device, over=over)
        down = arm.get("downstream")
        if down:
            unit = down["unit"]
            result.add_gain(f"{name} downstream gain of pretraining",
                            down["gain_over_pretraining_seeds"]["values"], unit=unit, over=over,
                            precision=precision, device=device)
            result.add_gain(f"{name} downstream gain, every seed pair pooled",
                            down["gain_pooled"]["values"], unit=unit,
                            over="(pretraining, fine-tuning) seed pairs", precision=precision,
                            device=device)
    costs = summarize_costs(reports)
    if costs:
        add_costs(result, costs, over)
    for line in goal_lines(arms):
        result.note(line)
    machines = {json.dumps(r.get("machine", {}), sort_keys=True) for r in reports}
    created = sorted(r.get("created", "?") for r in reports)
    result.note(f"The runs' machine (their report.json): {machine.get('cpu', '?')}, "
                f"{machine.get('cores', '?')} cores, {machine.get('gpus', 0)} GPUs, TensorFlow "
                f"{machine.get('tensorflow', '?')}"
                + (f" ({len(machines)} different machines)" if len(machines) > 1 else "")
                + f"; made {created[0]} to {created[-1]}; the fingerprint is the summarising "
                "process'. A seed's per-pretraining-seed gain is the median over its "
                "fine-tuning seeds.")
    result.details = {"runs": repo_relative(list(folders)), "arms": arms,
                      **({"costs": costs} if costs else {}), "reports": list(reports)}
    return result


def add_costs(result: BenchmarkResult, costs: Mapping[str, Any], over: str) -> None:
    """Each arm's tokens/s over the pooled speed rounds, against the reference arm round by
    round, and its training memory over pretraining seeds."""
    rounds = costs["rounds_per_run"]
    rounds_over = (f"speed rounds ({rounds[0]} per pretraining seed)" if len(set(rounds)) == 1
                   else f"speed rounds ({sum(rounds)} over {len(rounds)} pretraining seeds)")
    reference = costs["reference"]
    speed = {name: f"{name} training tokens/s (speed stage)"
             for name in costs["tokens_per_second_rounds"]}
    for name, values in costs["tokens_per_second_rounds"].items():
        result.add_figure(speed[name], values, unit=costs["unit"], precision=costs["precision"],
                          device=costs["device"], over=rounds_over)
    for name in speed:
        if name != reference:
            result.add_comparison(f"{name} vs {reference} training tokens/s", speed[name],
                                  speed[reference], over=rounds_over)
    for name, values in costs["train_memory_mb"].items():
        result.add_figure(f"{name} training memory", values, unit="MB", better="lower",
                          precision=costs["precision"], device=costs["device"], over=over)
    walls, records = costs["wall_seconds"], costs.get("records_seconds", [])
    if walls and all(walls) and len(records) == len(walls) and all(records):
        # The job's wall time (the "prepare included" goal) and its records stage: the
        # first run of a series makes the records, the others find and check them.
        result.add_figure("compare wall time per run", walls, unit="s", better="lower",
                          precision=costs["precision"], device=costs["device"], over=over)
        result.add_figure("of which records (made, or found and checked)", records, unit="s",
                          better="lower", precision=costs["precision"], device=costs["device"],
                          over=over)
    loads = "; ".join(f"{before[0]:.2f} -> {after[0]:.2f}"
                      for before, after in costs["load_average_at_speed_stage"])
    result.note(f"Speed rounds: {costs['precision']} on {costs['device']}, each run's rounds "
                f"alternate the arms after training; 1-minute load average before -> after each "
                f"run's speed stage: {loads} (the runs' own process counts). A run resumed after a "
                "kill times its last part only (its wall time and records stage alike).")


def run_series(args: argparse.Namespace,
               on_run: Callable[[list[str], list[dict]], None] | None = None,
               ) -> tuple[list[str], list[dict]]:
    """Each of `--seeds`: its run folder's report where the run has finished here, else the
    report the `--out` document keeps for that seed, else a new run. `on_run(sources,
    reports)` is called after each seed (the series so far). Returns (sources, reports),
    checked to differ only in the seed."""
    kept = {report["shared"]["seed"]: report for report in kept_reports(args.out)}
    sources, reports = [], []
    for seed in args.seeds:
        folder = run_folder(args.output_dir, args.name, seed)
        if seed in kept and not os.path.exists(os.path.join(folder, "report.json")):
            print(f"seed {seed}: kept in {args.out}", flush=True)
            sources.append(f"{args.out} (seed {seed})")
            reports.append(kept[seed])
        else:
            sources.append(launch(args.config, seed, args.name, args.output_dir, args.overrides))
            reports.append(read_report(sources[-1]))
        check_reports(sources, reports)  # A run unlike the kept ones stops the series at once.
        if on_run:
            on_run(sources, reports)
    return sources, reports


def write_document(sources: Sequence[str], reports: Sequence[Mapping[str, Any]],
                   path: str, start: RunStart | None = None,
                   matmul: bool = True) -> dict[str, dict]:
    """Writes the series' document to `path` (atomically; `start`: when this start of the
    script began; `matmul`: measure the matmul limits for it); returns `summarize_arms`'."""
    arms = summarize_arms(reports)
    benchmark_result(sources, reports, arms, document_name(path), start).write(path, matmul)
    return arms


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=os.path.join(REPO, "pipelines", "compare.yaml"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--name", default="compare", help="the pipeline's `name` (run folders "
                        "<output-dir>/<name>, <output-dir>/seed1/<name>, ...)")
    parser.add_argument("--output-dir", default=os.path.join(REPO, "runs"))
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="more `--set` overrides for every run")
    parser.add_argument("--runs", nargs="+", help="summarise these finished run folders "
                        "and series documents (every run they keep) instead of running --seeds")
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "out",
                                                      "compare_seeds.json"))
    args = parser.parse_args(argv)
    start = run_start()  # Documents are made after each run; their clock and load start here.
    if args.runs:
        sources, reports = args.runs, load_reports(args.runs)
    else:  # The document after each run: a series stopped, or its machine lost, keeps its runs
        # (the matmul limits once, at the end).
        sources, reports = run_series(
            args, lambda s, r: write_document(s, r, args.out, start, matmul=False))
    arms = write_document(sources, reports, args.out, start)
    print(markdown(arms))
    print("\n".join(goal_lines(arms)))
    print(f"JSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
