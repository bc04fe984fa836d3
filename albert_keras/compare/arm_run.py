"""One arm of a comparison, start to end, in a process of its own.

Pretraining with held-out scores every `compare.eval_every` steps (the learning curve; in the
phases of `train.phases` when given: `arm_pretraining`), then the measures (parameters, sizes,
peak memory, tokens/s, serving latency of the exported raw-text SavedModel), then downstream
fine-tuning from the pretrained weights and from random weights, once per seed. A fresh process
per arm makes its peak memory its own and leaves no state from one arm to the next; it dies
with the comparison (`arm_process`), and an arm that finished before with the same settings is
kept, not run again (`finished_arms`). An arm killed before its end resumes its pretraining
from its last backup (one per `compare.eval_every` steps, kept until the arm's result is
written) with its learning curve so far; a backup made with other settings is set aside and
the arm starts again. The arm's folder may be a URL: every file goes through `file_io` (Keras,
TensorFlow's SavedModel loader and `finetune` read and write URLs themselves).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from typing import Any

import keras

from albert_keras.compare import arm_process, measures
from albert_keras.compare.arm_pretraining import (CURVE, arm_pretrainer, batches_fingerprint,
                                                  dataset_fn, delete_backups, held_out_dataset,
                                                  phase_backups,
                                                  pretrain_arm, resume_step, resumed_curve)
from albert_keras.compare.compare_config import ArmConfig, CompareConfig
from albert_keras.compare.finished_arms import (ARM_RESULT, ARM_SETTINGS, arm_settings,
                                                finished_result, settings_digest)
from albert_keras.compare.held_out_intervals import held_out_intervals
from albert_keras.export.export_for_serving import export_for_serving
from albert_keras.jobs.downstream_protocol import (choose_learning_rate, paired_gain,
                                                   rate_key, summary)
from albert_keras.jobs.finetune import finetune
from albert_keras.jobs.pretrain_phases import phases
from albert_keras.models.dtype_copy import save_float32
from albert_keras.models.model_config import ModelConfig
from albert_keras.tasks.registry import task_named
from albert_keras.tokenizers.tokenizer_files import load_tokenizer
from albert_keras.training.precision import resolve_precision
from albert_keras.training.pretraining import most_frequent_token_accuracy
from albert_keras.training.strategy import make_strategy
from albert_keras.utils import file_io
from albert_keras.utils.atomic_files import write_json_atomic

LATENCY_BATCH_SIZES = (1, 32)


@dataclasses.dataclass(frozen=True)
class ArmPlan:
    """What the comparison hands each arm: the same inputs for all, and the arm's folder.

    Args:
        records: str. Directory of the training shards (of the last phase, with
            `train.phases`).
        held_out: str. Directory of the held-out shards (documents never trained on).
        tokenizer: str. The tokenizer directory all arms share.
        arm_dir: str. Where this arm writes (`encoder.keras`, `saved_model/`, `downstream/`).
        tokens_per_sequence: float. Mean real (non-padding) tokens of a training sequence.
        latency_texts: tuple of str. Raw texts the latency requests are drawn from.
        earlier_phases: tuple of `(records, tokens_per_sequence)`, one per phase before the
            last (`train.phases`), in training order; empty for a run in one phase.
    """

    records: str
    held_out: str
    tokenizer: str
    arm_dir: str
    tokens_per_sequence: float
    latency_texts: tuple[str, ...]
    earlier_phases: tuple[tuple[str, float], ...] = ()

    @property
    def phase_records(self) -> list[str]:
        """Every phase's training records, in training order."""
        return [records for records, _ in self.earlier_phases] + [self.records]

    @property
    def phase_tokens_per_sequence(self) -> list[float]:
        return [tokens for _, tokens in self.earlier_phases] + [self.tokens_per_sequence]


def run_arm_in_process(config, arm: ArmConfig, plan: ArmPlan,
                       manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """Runs `run_arm` in a fresh (spawned) process that dies with this one; returns its result.

    An arm that finished before with the same settings is not run again: its recorded result
    is returned (a rerun of a killed comparison redoes only the unfinished arms). The settings
    are the arm, every section of the pipeline but the other arms, the plan and `manifest`
    (the records' `manifest.json` as a dict), compared by digest; the recorded fingerprints must name the same
    records, tokenizer and seeds.
    """
    file_io.makedirs(plan.arm_dir)
    result_path = os.path.join(plan.arm_dir, ARM_RESULT)
    settings_path = os.path.join(plan.arm_dir, ARM_SETTINGS)
    settings = arm_settings(config, arm, plan, manifest)
    kept, reason = finished_result(plan.arm_dir, settings)
    if kept is not None:
        print(f"[compare] {arm.name}: finished before with the same settings; its results are "
              f"kept ({result_path})", flush=True)
        return kept
    if reason:
        print(f"[compare] {arm.name}: running again: {reason}", flush=True)
    for path in (settings_path, result_path):
        file_io.remove(path)
    exitcode = arm_process.run_in_child(_write_arm_result, (config, arm, plan, result_path),
                                        name=f"arm-{arm.name}")
    if exitcode != 0 or not file_io.isfile(result_path):
        raise RuntimeError(f"Arm {arm.name!r} failed (exit code {exitcode}); its output "
                           f"is above and its files are in {plan.arm_dir}")
    result = json.loads(file_io.read_text(result_path))
    write_json_atomic(settings_path, {"settings_sha256": settings_digest(settings),
                                      "settings": settings})
    return result


def _write_arm_result(config, arm: ArmConfig, plan: ArmPlan, result_path: str) -> None:
    write_json_atomic(result_path, run_arm(config, arm, plan))
    # Only now: until the result is durable, a killed arm resumes from its backups.
    delete_backups(config, plan.arm_dir)


def run_arm(config, arm: ArmConfig, plan: ArmPlan) -> dict[str, Any]:
    """Pretrains (in every phase of `train.phases`), measures and fine-tunes one arm; returns
    its part of the report."""

    started = time.perf_counter()
    train = config.train
    run = phases(config)
    first, last = run[0].config, run[-1].config  # The last's: held-out set, export, latency.
    keras.utils.set_random_seed(train.seed)  # The same seed for every arm.
    tokenizer = load_tokenizer(plan.tokenizer)
    strategy = make_strategy(train.strategy)
    precision, _ = resolve_precision(train.precision, strategy)  # The same for every arm.
    records = plan.phase_records
    backups = phase_backups(config, arm, records, plan.tokenizer, plan.arm_dir, precision)
    curve_path = os.path.join(plan.arm_dir, CURVE)
    skip = resume_step(config, backups)
    held_out, held_out_batches = held_out_dataset(last, plan.held_out, tokenizer)
    fingerprints = {"first_batches": batches_fingerprint(
                        dataset_fn(first, records[0], tokenizer)(None), batches=2),
                    "held_out_batches": batches_fingerprint(held_out, batches=None),
                    "tokenizer": plan.tokenizer, "records": plan.records,
                    "seed": train.seed, "data_seed": config.data.seed}
    memory_before = measures.peak_memory_mb()

    with strategy.scope():
        pretrainer = arm_pretrainer(arm, tokenizer, config.data.pair_task, precision,
                                    plan.tokenizer)
    encoder = pretrainer.encoder
    encoder_config = encoder.encoder_config
    parameters = measures.parameter_breakdown(pretrainer)
    print(f"[compare] {arm.name}: {parameters['encoder']:,} encoder parameters "
          f"({parameters['total']:,} with heads)", flush=True)
    curve = resumed_curve(curve_path, skip) if skip else []
    if curve and curve[-1]["step"] != skip:
        raise RuntimeError(f"{curve_path} ends at step {curve[-1]['step']}, its backup at step "
                           f"{skip}: delete {os.path.dirname(curve_path)} to run the arm again")
    if curve:
        print(f"[compare] {arm.name}: resuming at step {skip}", flush=True)
    phase_entries = pretrain_arm(config, arm, pretrainer, strategy, records, backups, curve,
                                 curve_path, (held_out, held_out_batches), tokenizer)
    peak_memory = measures.peak_memory_mb()
    steps_run = curve[-1]["step"]
    train_seconds = curve[-1]["seconds"]
    tokens = sum(entry["steps_run"] * tokens for entry, tokens
                 in zip(phase_entries, plan.phase_tokens_per_sequence)) * train.global_batch_size

    encoder_path = os.path.join(plan.arm_dir, "encoder.keras")
    save_float32(encoder, encoder_path)  # Loads and runs in float32 anywhere, as pretrain's.
    export_dir = _export(encoder, tokenizer, plan, last.data.max_sequence_length)
    latency = measures.serving_latency(export_dir, plan.latency_texts, LATENCY_BATCH_SIZES,
                                       config.compare.latency_iterations, seed=train.seed)
    result = {
        "name": arm.name, "arm": {k: v for k, v in dataclasses.asdict(arm).items()
                                  if v is not None},
        "encoder_config": encoder_config.to_dict(), "parameters": parameters,
        "weights_mb": parameters["encoder"] * 4 / 2**20,
        "keras_file_mb": measures.size_mb(encoder_path),
        "saved_model_mb": measures.size_mb(export_dir),
        "peak_memory_mb": peak_memory, "train_memory_mb": peak_memory - memory_before,
        "steps_run": steps_run, "train_seconds": train_seconds,
        "tokens_per_second": tokens / train_seconds if train_seconds > 0 else float("nan"),
        "latency_ms": latency, "curve": curve, "final": curve[-1],
        # The final held-out accuracies with bootstrap intervals over held-out documents.
        "held_out_intervals": held_out_intervals(pretrainer, held_out, held_out_batches,
                                                 plan.held_out, step=steps_run, seed=train.seed),
        "most_frequent_token_accuracy": most_frequent_token_accuracy(held_out),
        "fingerprints": fingerprints, "downstream": None,
        # With `train.phases`: each phase's sequence length and the run's steps it covers.
        **({"phases": phase_entries} if len(records) > 1 else {}),
        # This arm's process, end to end: pretraining with its evaluations, saving, export and
        # latency; then the downstream fine-tuning runs (0 without).
        "wall_seconds": {"pretraining": time.perf_counter() - started, "downstream": 0.0},
    }
    if config.compare.downstream:
        started = time.perf_counter()
        result["downstream"] = downstream_twins(config, arm, encoder_config, plan.tokenizer,
                                                encoder_path,
                                                os.path.join(plan.arm_dir, "downstream"))
        result["wall_seconds"]["downstream"] = time.perf_counter() - started
    return result


def _export(encoder, tokenizer, plan: ArmPlan, sequence_length: int) -> str:
    return export_for_serving(encoder, tokenizer, os.path.join(plan.arm_dir, "saved_model",
                                                               "encoder"),
                              version=1, overwrite=True, sequence_length=sequence_length)


def downstream_run_metrics(run) -> dict[str, Any]:
    """One downstream fine-tuning run (`run`, a pipeline config; `finetune` seeds it with its
    `finetune.seed`): its metrics per split."""
    return finetune(run)["metrics"]


def downstream_twins(config, arm: ArmConfig, encoder_config, tokenizer_dir: str,
                     encoder_path: str, output_dir: str) -> dict[str, Any]:
    """Fine-tunes the pretrained encoder and its random-init twin (`encoder_config`, fresh
    weights) at every rate of the grid, once per seed; each picks its rate on validation and
    is scored on test (`downstream_protocol.py`).

    Every run uses the `finetune` settings with no early stopping (the last epoch is scored),
    the seed of `compare.downstream_seeds` and a rate of `finetune.learning_rates` (empty:
    `finetune.learning_rate` alone); `compare.downstream_workers` of them run at once, each in
    a process of its own. With a grid of one rate and no `finetune.test`, the
    validation rows are the scored split.

    Returns:
        The arm's `downstream` entry of `report.json`:
        - `metric`, `split` (scored: `"test"`, or `"validation"` as above),
          `selection_split` (`"validation"`, or None for a grid of one), `seeds`,
          `learning_rates` (the grid);
        - `pretrained` and `random_init`, each: `learning_rate` (chosen), `values` (the
          scored split, one per seed, at the chosen rate), `median`, `min`, `max`, `mean`,
          `std`, and `validation` (`{rate: [per seed]}`, what the choice saw; empty without
          selection);
        - `gain`: the paired gain per seed, `pretrained - random_init` (`values`, `median`,
          `min`, `max`, `mean`, `std`, `positive_seeds`, `negative_seeds`, `verdict`).
    """
    ft = config.finetune
    rates = ft.grid()
    split = "test" if ft.test else "validation"
    selection = "validation" if len(rates) > 1 else None
    metric = task_named(ft.task).score_name(ft)
    twin = ModelConfig(**encoder_config.to_dict())  # Every field given: no preset left over.
    models = {"pretrained": dataclasses.replace(twin, pretrained=encoder_path),
              "random_init": twin}
    seeds = list(config.compare.downstream_seeds)
    # scores[init][rate][split] = one score per seed.
    scores = {init: {rate: {"validation": [], split: []} for rate in rates} for init in models}
    plan = [(seed, rate, init) for seed in seeds for rate in rates for init in models]
    runs = [dataclasses.replace(
        config, name=f"{init}-lr{rate_key(rate)}-seed{seed}", model=models[init],
        compare=CompareConfig(), finetune=dataclasses.replace(
            ft, seed=seed, learning_rate=rate, learning_rates=(), tokenizer=tokenizer_dir,
            verbose=0, tensorboard=False, restore_best_checkpoint=False,
            early_stopping_patience=0, validate_each_epoch=False,
            output_dir=output_dir)) for seed, rate, init in plan]
    workers = min(config.compare.downstream_workers, len(runs))
    with contextlib.ExitStack() as stack:
        if workers > 1:  # Results come back in plan order either way.
            metrics_of_runs = stack.enter_context(arm_process.worker_pool(workers)).map(
                downstream_run_metrics, runs)
        else:
            metrics_of_runs = map(downstream_run_metrics, runs)
        for (seed, rate, init), metrics in zip(plan, metrics_of_runs):
            for name in {"validation", split}:
                if name in metrics:
                    scores[init][rate][name].append(float(metrics[name][metric]))
            print(f"[compare] {arm.name}: downstream {init}, learning rate {rate}, seed "
                  f"{seed}: {split} {metric} {scores[init][rate][split][-1]:.3f}", flush=True)
    result = {"metric": metric, "split": split, "selection_split": selection, "seeds": seeds,
              "learning_rates": rates}
    for init in models:
        validation = {rate: scores[init][rate]["validation"] for rate in rates}
        chosen = choose_learning_rate(validation) if selection else rates[0]
        values = scores[init][chosen][split]
        result[init] = {"learning_rate": chosen, "values": values, **summary(values),
                        "validation": {rate_key(rate): v for rate, v in validation.items()}
                        if selection else {}}
    result["gain"] = paired_gain(result["pretrained"]["values"], result["random_init"]["values"])
    return result
