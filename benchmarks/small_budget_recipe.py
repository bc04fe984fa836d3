"""Which pretraining recipe pays at the quickstart's budget: an ablation over seeds (issue 24).

Every variant is the quickstart pipeline (`--config`, default `pipelines/albert_tiny.yaml`) with a
few `--set` overrides: the optimizer and its learning rate, warmup and decay, a time budget with
the schedule fitted to it (and, against it, the step schedule of as many steps as that time
gave), dropout, the mask rate, the corpus, the model width at equal time, phases. Overrides
apply to the pipeline file as it is now: variants written against an earlier default say so,
and those that change `train.steps` run one phase (`train.phases=[]`).
Each variant runs once per seed as its own `albert-keras pretrain` process (records prepared
by that process, so a variant may change data settings), and is scored on the held-out records:
documents no run trained on. Runs go seed by seed through the variants (round-robin), so a
drift of the machine over the hours spreads over every variant alike.

    .venv/bin/python benchmarks/small_budget_recipe.py --seeds 0 1 2
    .venv/bin/python benchmarks/small_budget_recipe.py --variants baseline adamw_1e-3 --seeds 0 1 2 3 4

For every variant: the median [min, max] of held-out MLM loss and accuracy and of the pair
task's accuracy, and the per-seed difference from `baseline` (same seed) with the verdict of
`albert_keras/jobs/downstream_protocol.py` ("gain" needs at least 3 seeds, the median above 0
and at least 80% of them agreeing).

With `--downstream`, each run's encoder also goes through `compare`'s downstream protocol
(`pipelines/compare.yaml`'s `finetune` and `compare.downstream_*` settings: the built-in task,
the learning-rate grid chosen on validation rows, scored on test rows, 5 fine-tuning seeds),
against the same architecture from random weights: per run, the paired gain of pretraining
(median over the fine-tuning seeds); per variant, its median over pretraining seeds, and the
paired difference of the pretrained test scores from the reference's (same pretraining seed).
Runs kept without a downstream entry are trained again (deterministic for a seed).

Writes one `benchmarks.harness` document to `--out` after every run: each score a figure over
pretraining seeds, each paired difference a gain with the downstream protocol's rule, the
runs under `details`. Finished runs are read back from it (or from the plain JSON of this
script's earlier versions) and not run again, so an interrupted ablation goes on where it
stopped. Precision: the pipeline's (`auto`, which is bfloat16 on CPUs with
avx512_bf16/amx_bf16).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from typing import Mapping

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from albert_keras.jobs.downstream_protocol import paired_gain  # noqa: E402
from benchmarks.harness import (SCHEMA, BenchmarkResult, RunStart, document_name,  # noqa: E402
                               run_start)

# name -> (what it tries, --set overrides on top of the pipeline file). Variants whose name
# ends in "_minutes_3.5" run for a time budget and are compared with `minutes_3.5` (equal time);
# the others with `baseline` (equal steps).
EQUAL_TIME = "minutes_3.5"
ONE_PHASE = "train.phases=[]"  # With a changed `train.steps`: one phase of that many steps.
TIME_BUDGET = [ONE_PHASE, "train.steps=5000", "train.max_minutes=3.5"]
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "baseline": ("the pipeline file as it is", []),
    "lamb_1e-2": ("LAMB at twice the peak rate", ["train.learning_rate=0.01"]),
    "lamb_2e-2": ("LAMB at four times the peak rate", ["train.learning_rate=0.02"]),
    "lamb_2.5e-3": ("LAMB at half the peak rate", ["train.learning_rate=0.0025"]),
    "adamw_1e-3": ("AdamW instead of LAMB, peak 1e-3",
                   ["train.optimizer=adamw", "train.learning_rate=0.001"]),
    "adamw_2e-3": ("AdamW instead of LAMB, peak 2e-3",
                   ["train.optimizer=adamw", "train.learning_rate=0.002"]),
    # Written for the 400-step default, whose warmup was 50; today's default warms up over 100.
    "warmup_100": ("warmup over 100 steps (a quarter of the earlier 400-step default)",
                   ["train.warmup_steps=100"]),
    "warmup_250": ("warmup over a quarter of the run's 1,000 steps (250, in its first phase)",
                   ["train.warmup_steps=250"]),
    "dropout_0.1": ("dropout 0.1 (BERT's) while the data repeats", ["model.dropout=0.1"]),
    "dropout_0": ("dropout 0 (ALBERT v2's)", ["model.dropout=0.0"]),
    "mask_25": ("mask 25% of tokens (cap raised to 32)",
                ["data.mask_rate=0.25", "data.max_predictions=32"]),
    "more_text": ("the larger built-in corpus `pydocs` (standard library, Python's reference "
                  "topics, numpy, Keras, keras-hub, TensorFlow docstrings: 1.9M words), one pass "
                  "(400 steps see a fifth of it: no text repeats)",
                  ["data.corpus=pydocs", "data.dupe_factor=1"]),
    "lamb_1e-2_600_steps": ("LAMB at 0.01 for 600 steps: the quickstart's whole ~5-minute "
                            "budget", ["train.learning_rate=0.01", ONE_PHASE, "train.steps=600"]),
    "pydocs_seq64_700_steps": ("compare.yaml's data (the pydocs corpus, one pass, 64-token "
                               "sequences) for 700 steps: about the quickstart's wall time",
                               ["data.corpus=pydocs", "data.dupe_factor=1",
                                "data.max_sequence_length=64", "data.length_buckets=[32]",
                                ONE_PHASE, "train.steps=700", "train.warmup_steps=100"]),
    "pydocs_seq64": ("compare.yaml's data (the pydocs corpus, one pass, 64-token sequences) "
                     "at the pipeline's steps", ["data.corpus=pydocs", "data.dupe_factor=1",
                                                 "data.max_sequence_length=64",
                                                 "data.length_buckets=[32]"]),
    "short_early": ("shorter sequences early (BERT's two phases, at the quickstart's size: "
                    "`train.phases`): 600 steps of 32-token sequences, then 400 of 64 "
                    "continuing from them (heads kept, a new warmup): the token budget of 700 "
                    "steps of 64",
                    ["data.max_sequence_length=64", "data.length_buckets=[32]",
                     "train.steps=1000", "train.phases=[{steps: 600, max_sequence_length: 32, "
                     "max_predictions: 10, length_buckets: [16]}, {steps: 400, warmup_steps: "
                     "40}]"]),
    "one_phase_700": ("one phase of 700 steps of 64-token sequences (the quickstart before "
                      "`train.phases`): the token budget of the two phases",
                      ["data.max_sequence_length=64", "data.length_buckets=[32]", ONE_PHASE,
                       "train.steps=700", "train.warmup_steps=100"]),
    EQUAL_TIME: ("a 3.5-minute training budget, the schedule fitted to the time", TIME_BUDGET),
    "seq_64_minutes_3.5": ("sequences of 64 tokens (cap 10 predictions) for 3.5 minutes",
                           [*TIME_BUDGET, "data.max_sequence_length=64",
                            "data.max_predictions=10", "data.length_buckets=[16,32,48]"]),
    "narrow_minutes_3.5": ("width 128 (2 heads, FFN 512) for 3.5 minutes",
                           [*TIME_BUDGET, "model.hidden_dim=128", "model.num_heads=2",
                            "model.intermediate_dim=512"]),
    "wide_minutes_3.5": ("width 384 (6 heads, FFN 1536) for 3.5 minutes",
                         [*TIME_BUDGET, "model.hidden_dim=384", "model.num_heads=6",
                          "model.intermediate_dim=1536"]),
    # Its steps come from `minutes_3.5`'s run at the same seed (`overrides_for`).
    "step_schedule_minutes_3.5": ("the step schedule of the same minutes: one phase of as many "
                                  "steps as `minutes_3.5` ran at the same seed, warmup the same "
                                  "share of them, no time budget (what a user who timed their "
                                  "machine first would set)", [ONE_PHASE]),
}
# Variants whose step count is the one their reference ran at the same seed (on this machine).
STEPS_OF_REFERENCE = {"step_schedule_minutes_3.5"}

def reference(variant: str) -> str | None:
    """The variant that `variant` is compared with: equal time or equal steps."""
    if variant in ("baseline", EQUAL_TIME):
        return None if variant == "baseline" else "baseline"
    return EQUAL_TIME if variant.endswith("_" + EQUAL_TIME) else "baseline"


def with_references(requested: list[str]) -> list[str]:
    """The variants to run: each requested one and the one it is compared with, references
    first. Only the direct reference: asking for `narrow_minutes_3.5` runs `minutes_3.5` beside
    it (equal time), not `baseline` (equal steps, minutes longer on a slow CPU), which runs
    when it is asked for or is the reference of a requested variant."""
    references = [reference(v) for v in requested]
    return list(dict.fromkeys([r for r in references if r] + list(requested)))


def check_variants_change_something(variants: list[str], config: str, extra: list[str]) -> None:
    """Fails, before any run, when a variant trains exactly as its reference on `config`: its
    overrides restate the pipeline file (a variant written against an earlier default), and
    its runs would repeat the reference's digit for digit at every seed."""
    from albert_keras.pipeline import load_pipeline

    pipelines = {}  # variant -> its pipeline, each loaded once (a reference serves many).

    def pipeline(variant):
        if variant not in pipelines:
            pipelines[variant] = load_pipeline(os.path.join(REPO, config),
                                               [*VARIANTS[variant][1], *extra])
        return pipelines[variant]

    same = []
    for variant in variants:
        versus = reference(variant)
        if versus is None or variant in STEPS_OF_REFERENCE:  # Its steps come from a run.
            continue
        if pipeline(variant) == pipeline(versus):
            same.append(f"{variant} (overrides {VARIANTS[variant][1]}) trains as {versus}")
    if same:
        raise SystemExit(f"On {config}, these variants change nothing: {'; '.join(same)}. "
                         "Leave them out of --variants, or run them on the pipeline file "
                         "they were written for.")


def overrides_for(variant: str, seed: int, runs: list[dict], config: str,
                  extra: list[str]) -> list[str]:
    """`variant`'s `--set` overrides at `seed`, `extra` (every variant's) included. For
    `STEPS_OF_REFERENCE`, last (so `extra` cannot undo them): `train.steps` is the steps its
    reference ran at that seed (one epoch of them), and the warmup the same share of them as the
    reference's schedule (`config` with the reference's and `extra` overrides)."""
    overrides = [*VARIANTS[variant][1], *extra]
    if variant not in STEPS_OF_REFERENCE:
        return overrides
    from albert_keras.pipeline import load_pipeline

    versus = reference(variant)
    ran = [r for r in runs if (r["variant"], r["seed"]) == (versus, seed)]
    if not ran:
        raise RuntimeError(f"{variant} at seed {seed} takes its steps from {versus}'s run at "
                           f"that seed, and there is none: run {versus} first")
    train = load_pipeline(os.path.join(REPO, config), [*VARIANTS[versus][1], *extra]).train
    steps = ran[0]["steps_run"]
    warmup = max(1, round(steps * train.warmup_steps / train.steps))
    return [*overrides, f"train.steps={steps}", f"train.steps_per_epoch={steps}",
            f"train.warmup_steps={warmup}"]


METRICS = ("mlm_loss", "mlm_accuracy", "pair_accuracy")
LOWER_IS_BETTER = {"mlm_loss"}
METRIC_NAMES = {"mlm_loss": "MLM loss", "mlm_accuracy": "MLM accuracy",
                "pair_accuracy": "pair-task accuracy"}


def _pretrain(config: str, name: str, seed: int, work: str, overrides: list[str]) -> tuple:
    """One `albert-keras pretrain` process: `(its summary.json, wall seconds)`."""
    overrides = [f"name={name}", f"train.seed={seed}", f"train.output_dir={work}/runs",
                 f"data.output_dir={work}/records", "train.verbose=0", *overrides]
    command = [sys.executable, "-m", "albert_keras.cli", "pretrain", "--config", config]
    for override in overrides:
        command += ["--set", override]
    start = time.perf_counter()
    process = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{name} failed ({process.returncode}):\n{process.stderr[-3000:]}")
    with open(os.path.join(work, "runs", name, "summary.json")) as f:
        return json.load(f), wall


def run_variant(config: str, variant: str, seed: int, work: str, overrides: list[str],
                downstream_settings=None) -> dict:
    """`variant` at `seed` (one `pretrain` with `overrides`, from `overrides_for`; in phases or
    not); its held-out scores and costs, and with `downstream_settings` (`downstream_config`)
    the downstream gain of its encoder. A run in phases reports the whole run's steps and
    seconds (`summary.json`)."""
    name = f"{variant}-s{seed}"
    summary, wall = _pretrain(config, name, seed, work, overrides)
    scores = {}
    if downstream_settings is not None:
        start = time.perf_counter()
        scores = {"downstream": downstream(os.path.join(work, "runs", name), summary, work,
                                           downstream_settings),
                  "downstream_seconds": round(time.perf_counter() - start, 1)}
    for folder in ("runs", "records"):  # The run's folders and its phases' (`{name}.phaseK`).
        for entry in os.listdir(os.path.join(work, folder)):
            if entry == name or entry.startswith(name + ".phase"):
                shutil.rmtree(os.path.join(work, folder, entry), ignore_errors=True)
    final = summary["final"]
    return {"variant": variant, "seed": seed, "wall_seconds": round(wall, 1),
            "train_seconds": summary["train_seconds"], "steps_run": summary["steps_run"],
            "encoder_parameters": summary["encoder_parameters"],
            "eval_pairs": summary["eval_pairs"],
            "most_frequent_token_accuracy": summary["most_frequent_token_accuracy"],
            "precision": summary["precision"], "weights_sha256": summary.get("weights_sha256"),
            **{metric: final[metric] for metric in METRICS}, **scores}


def downstream_config(work: str, compare_config: str, overrides: tuple[str, ...] = ()):
    """The downstream settings (`compare_config` with `overrides`) and the built-in task's
    data, written once into `work/downstream/` before any run: a bad setting fails first."""
    from albert_keras.compare.comparison import downstream_task
    from albert_keras.pipeline import load_pipeline

    config, _ = downstream_task(load_pipeline(compare_config, list(overrides)),
                                os.path.join(work, "downstream"))
    return config


def downstream(run_dir: str, summary: dict, work: str, config) -> dict:
    """`compare`'s downstream step for one run's encoder and its random-init twin: the arm's
    `downstream` entry of a compare report (`arm_run.downstream_twins`)."""
    from albert_keras.compare import ArmConfig
    from albert_keras.compare.arm_run import downstream_twins
    from albert_keras.models.encoder_config import EncoderConfig

    output = os.path.join(work, "downstream", summary["name"])
    try:
        return downstream_twins(
            config, ArmConfig(name=summary["name"]), EncoderConfig(**summary["encoder_config"]),
            os.path.join(run_dir, "tokenizer"), os.path.join(run_dir, "encoder.keras"), output)
    finally:
        shutil.rmtree(output, ignore_errors=True)


def summarize(runs: list[dict], variants: list[str]) -> dict[str, dict]:
    """Per variant: median/min/max of each metric and the paired gain over its reference."""
    by_key = {(r["variant"], r["seed"]): r for r in runs}
    table = {}
    for variant in variants:
        rows = [r for r in runs if r["variant"] == variant]
        if not rows:
            continue
        entry = {"runs": len(rows), "steps_run": statistics.median(r["steps_run"] for r in rows),
                 "train_seconds": statistics.median(r["train_seconds"] for r in rows)}
        for metric in METRICS:
            values = [r[metric] for r in rows]
            entry[metric] = {"median": statistics.median(values), "min": min(values),
                             "max": max(values)}
        with_downstream = [r for r in rows if "downstream" in r]
        if with_downstream:  # Per run: the median over fine-tuning seeds of its paired gain.
            gains = [r["downstream"]["gain"]["median"] for r in with_downstream]
            entry["downstream_gain"] = {"median": statistics.median(gains), "min": min(gains),
                                        "max": max(gains), "positive_runs": sum(
                                            g > 0 for g in gains), "runs": len(gains)}
        versus = reference(variant)
        seeds = sorted(r["seed"] for r in rows if (versus, r["seed"]) in by_key)
        if versus and seeds:
            entry["reference"] = versus
            for metric in METRICS:
                sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
                # Improvement per seed: positive = better than the reference.
                entry[f"{metric}_gain"] = paired_gain(
                    [sign * by_key[(variant, s)][metric] for s in seeds],
                    [sign * by_key[(versus, s)][metric] for s in seeds])
            both = [s for s in seeds if "downstream" in by_key[(variant, s)]
                    and "downstream" in by_key[(versus, s)]]
            if both:  # The pretrained encoders' test scores, paired by pretraining seed.
                entry["downstream_vs_reference"] = paired_gain(
                    [by_key[(variant, s)]["downstream"]["pretrained"]["median"] for s in both],
                    [by_key[(versus, s)]["downstream"]["pretrained"]["median"] for s in both])
        table[variant] = entry
    return table


def markdown(table: dict[str, dict]) -> str:
    """The ablation table: medians [min, max] and the paired verdicts against the reference."""
    lines = ["| variant | seeds | steps | MLM loss | MLM acc. | SOP/NSP acc. | MLM acc. gain over "
             "the reference (verdict) | downstream gain of pretraining | downstream vs the "
             "reference |", "|---|---|---|---|---|---|---|---|---|"]
    for variant, entry in table.items():
        cells = [f"{entry[m]['median']:.3f} [{entry[m]['min']:.3f}, {entry[m]['max']:.3f}]"
                 for m in METRICS]
        gain = entry.get("mlm_accuracy_gain")
        versus = ("—" if gain is None else
                  f"{gain['median']:+.3f} [{gain['min']:+.3f}, {gain['max']:+.3f}] "
                  f"{gain['positive_seeds']}/{len(gain['values'])} ({gain['verdict']}) "
                  f"vs {entry['reference']}")
        own = entry.get("downstream_gain")
        own = ("—" if own is None else f"{own['median']:+.3f} [{own['min']:+.3f}, "
               f"{own['max']:+.3f}] {own['positive_runs']}/{own['runs']} runs")
        paired = entry.get("downstream_vs_reference")
        paired = ("—" if paired is None else
                  f"{paired['median']:+.3f} [{paired['min']:+.3f}, {paired['max']:+.3f}] "
                  f"{paired['positive_seeds']}/{len(paired['values'])} ({paired['verdict']})")
        lines.append(f"| {variant} | {entry['runs']} | {entry['steps_run']:.0f} | "
                     + " | ".join(cells) + f" | {versus} | {own} | {paired} |")
    return "\n".join(lines)


def benchmark_result(store: dict, variants: list[str], name: str = "small_budget_recipe",
                     start: RunStart | None = None) -> BenchmarkResult:
    """The ablation as one `benchmarks.harness` document: per variant, each held-out score a
    figure over its pretraining seeds; against its reference, the per-seed improvement of each
    score as a gain with the downstream protocol's rule (loss: lower is the improvement); with
    `--downstream`, the gain of pretraining and the pretrained test score against the
    reference's. The runs themselves (the resumable store) are its `details`."""
    table = summarize(store["runs"], variants)
    over = "pretraining seeds"
    seeds = sorted({r["seed"] for r in store["runs"]})
    result = BenchmarkResult(name, rounds=len(seeds), settings={
        "values_over": over, "config": store["config"], "config_sha256": store["config_sha256"],
        **({"config_settings_sha256": store["config_settings_sha256"]}
           if "config_settings_sha256" in store else {}),
        "extra": store["extra"], "variants": {v: VARIANTS[v][1] for v in table}}, start=start)
    # `started`: the ablation's first run, over every start; wall time and load: this start's.
    result.started = store.get("started", result.started)
    for variant, entry in table.items():
        rows = sorted((r for r in store["runs"] if r["variant"] == variant),
                      key=lambda r: r["seed"])
        precision = rows[0]["precision"]
        for metric in METRICS:
            result.add_figure(f"{variant} held-out {METRIC_NAMES[metric]}",
                              [r[metric] for r in rows], unit="",
                              better="lower" if metric in LOWER_IS_BETTER else "higher",
                              precision=precision, over=over)
        for metric in METRICS if entry.get("reference") else ():
            result.add_gain(f"{variant} vs {entry['reference']}: {METRIC_NAMES[metric]}",
                            entry[f"{metric}_gain"]["values"], over=over, precision=precision,
                            unit="held-out " + METRIC_NAMES[metric]
                            + (" (lower: a gain)" if metric in LOWER_IS_BETTER else ""))
        if "downstream_gain" in entry:
            result.add_gain(f"{variant} downstream gain of pretraining",
                            [r["downstream"]["gain"]["median"] for r in rows
                             if "downstream" in r], unit="test accuracy", over=over,
                            precision=precision)
        if "downstream_vs_reference" in entry:
            result.add_gain(f"{variant} vs {entry['reference']}: pretrained downstream score",
                            entry["downstream_vs_reference"]["values"], unit="test accuracy",
                            over=over, precision=precision)
    result.note("Each variant is the pipeline file with the --set overrides in "
                "settings.variants; its reference: equal steps (`baseline`) or equal time "
                f"(`{EQUAL_TIME}`). Runs and their seconds: details.runs"
                + (f"; the runs were made from {store['started']} on" if "started" in store
                   else "; the runs were made before this document was written")
                + " (the fingerprint is of the process that wrote this document).")
    result.details = {**store, "summary": table}
    return result


def config_digests(path: str) -> dict[str, str]:
    """The pipeline file's sha256 (`config_sha256`) and its settings' (`config_settings_sha256`:
    the YAML parsed, keys sorted), so that editing a comment keeps the finished runs."""
    with open(path, "rb") as f:
        raw = f.read()
    settings = json.dumps(yaml.safe_load(raw), sort_keys=True).encode()
    return {"config_sha256": hashlib.sha256(raw).hexdigest(),
            "config_settings_sha256": hashlib.sha256(settings).hexdigest()}


def load_store(path: str, config: str, digests: Mapping[str, str], extra: list[str]) -> dict:
    """The finished runs kept in `path` (this script's harness document, or the plain store of
    its earlier versions) when they are of the same pipeline settings and overrides; else a new
    store. Runs of other settings or overrides are an error, never mixed in. A store written
    before `config_settings_sha256` existed matches on the file's bytes."""
    store = {"config": config, **digests, "extra": extra, "runs": []}
    if not os.path.exists(path):
        return store
    with open(path) as f:
        previous = json.load(f)
    if previous.get("schema") == SCHEMA:
        previous = previous.get("details") or {}
    key = ("config_settings_sha256" if "config_settings_sha256" in previous
           else "config_sha256")
    if (previous.get("config"), previous.get(key), previous.get("extra")) == (
            config, digests[key], extra):
        return {**store, "runs": previous["runs"],
                **({"started": previous["started"]} if "started" in previous else {})}
    if previous.get("runs"):
        raise SystemExit(f"{path} holds runs of another pipeline file, settings or overrides "
                         f"({previous.get('config')}, {previous.get('extra')}); give "
                         f"another --out")
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="pipelines/albert_tiny.yaml")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--set", action="append", default=[], dest="extra",
                        help="an override for every variant (e.g. train.steps=200)")
    parser.add_argument("--downstream", action="store_true",
                        help="also fine-tune each run's encoder and its random-init twin "
                             "(compare's downstream protocol, --compare-config's settings)")
    parser.add_argument("--compare-config", default="pipelines/compare.yaml")
    parser.add_argument("--compare-set", action="append", default=[], dest="compare_overrides",
                        help="an override of the downstream settings (e.g. finetune.epochs=1)")
    parser.add_argument("--work", default=os.path.join(REPO, "benchmarks", "out", "recipe_work"))
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "out",
                                                      "small_budget_recipe.json"))
    args = parser.parse_args()
    start = run_start()  # Documents are made after each run; their clock and load start here.
    variants = with_references(args.variants)
    check_variants_change_something(variants, args.config, args.extra)
    # The document is named after its file: run_all's entries of this script differ by it.
    name = document_name(args.out)
    store = load_store(args.out, args.config, config_digests(os.path.join(REPO, args.config)),
                       args.extra)
    settings = None
    if args.downstream:  # Runs without a downstream entry are trained again, with one.
        store["runs"] = [r for r in store["runs"] if "downstream" in r]
        settings = downstream_config(args.work, os.path.join(REPO, args.compare_config),
                                     tuple(args.compare_overrides))
    done = {(r["variant"], r["seed"]) for r in store["runs"]}
    for seed in args.seeds:
        for variant in variants:
            if (variant, seed) in done:
                continue
            overrides = overrides_for(variant, seed, store["runs"], args.config, args.extra)
            store.setdefault("started", start.started)
            run = run_variant(args.config, variant, seed, args.work, overrides, settings)
            store["runs"].append(run)
            print(f"{variant} seed {seed}: MLM acc {run['mlm_accuracy']:.3f} loss "
                  f"{run['mlm_loss']:.3f} pair acc {run['pair_accuracy']:.3f} "
                  f"({run['steps_run']} steps, {run['train_seconds']:.0f} s)"
                  + (f"; downstream gain {run['downstream']['gain']['median']:+.3f}"
                     if "downstream" in run else ""), flush=True)
            # After every run (a kill keeps the finished ones); the matmul limits at the end.
            benchmark_result(store, variants, name, start).write(args.out, matmul=False)
    if store["runs"]:
        benchmark_result(store, variants, name, start).write(args.out)
    print(markdown(summarize(store["runs"], variants)))


if __name__ == "__main__":
    main()
