"""`compare`: BERT, ALBERT and the ALBERT paper's ablations trained side by side, one report.

The job: check the config (before any work), prepare the shared records once (training shards
plus held-out pairs from documents never trained on) and the downstream task, run each arm in a
process of its own (`arm_run.run_arm`: pretraining with a held-out learning curve, measures,
export and serving latency, pretrained and random-init fine-tuning per seed), time the arms'
train steps in alternated rounds in one more fresh process (`speed_rounds`: both arms under the
same load, median and min-max, a verdict), then put the arms side by side in
`{compare.output_dir}/{name}/`: `report.json`, `report.md` and `plots/*.png`.
`compare.output_dir` and `data.output_dir` may be URLs (`gs://`, ...): every file goes through
`file_io`, so the arms' processes read and write them as the other jobs do; `ram://`, which
holds files for one process only, is refused (`check_compare_paths`).

One comparison writes a report folder and its records at a time (a second one fails at once,
naming the first); a rerun after a kill keeps the arms that finished (and the speed rounds, when
measured with the same settings), and the others resume their pretraining from their backups.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
import platform
import sys
import time
from typing import Any

from albert_keras.compare import report as report_lib
from albert_keras.compare.arm_run import ArmPlan, run_arm_in_process
from albert_keras.compare.compare_config import (arm_checkpoints, check_compare_paths,
                                                 check_compare_pipeline)
from albert_keras.compare.report_markdown import report_markdown
from albert_keras.compare.speed_rounds import speed_in_process, with_speed
from albert_keras.jobs.pretrain_phases import phases, records_order
from albert_keras.jobs.task_corpus import prepare_records
from albert_keras.pretraining_data.corpus import read_documents
from albert_keras.pretraining_data.records.records_check import check_records
from albert_keras.pretraining_data.records.records_manifest import (HELD_OUT_DIR, RecordsManifest,
                                                                    read_manifest)
from albert_keras.training.continued_pretraining import check_tokenizer
from albert_keras.training.precision import resolve_precision
from albert_keras.utils import file_io
from albert_keras.utils.atomic_files import write_json_atomic, write_text_atomic
from albert_keras.utils.run_lock import RunLock
from albert_keras.utils.tokenizer_beside import TOKENIZER_DIR

_LATENCY_TEXTS = 256


def compare(config, progress: bool = True) -> dict[str, Any]:
    """Trains and measures every arm of `config.compare` on the same data; returns the report.

    Every arm gets the same records, tokenizer, batches (same order, same masks), optimizer,
    schedule, steps and seeds; arms differ only in their encoder configuration.

    Args:
        config: `PipelineConfig` with a `compare` section (see `pipelines/compare.yaml`).
        progress: bool. Show a progress bar over the arms and print the summary table.

    Returns:
        The report dict, also written to `{compare.output_dir}/{config.name}/report.json`:
        `arms` (each arm's entry; its `downstream`: `arm_run.downstream_twins`; its
        `held_out_intervals`: `held_out_intervals.py`), `speed` (the
        alternated speed rounds, and each arm's `tokens_per_second*` names:
        `speed_rounds.py`), `views`, `paper` and `wall_seconds` (`records`, `speed`, `total`).

    Example:
    ```python
    # needs: a few minutes of CPU (a whole comparison)
    from albert_keras.compare import compare
    from albert_keras.pipeline import load_pipeline

    report = compare(load_pipeline("pipelines/compare.yaml", ["train.steps=100"]))
    report["views"]["equal_time"]  # held-out scores of every arm after the same seconds
    ```
    """
    check_compare_pipeline(config)
    check_compare_paths(config)
    _check_arm_tokenizers(config)
    run_dir = os.path.join(config.compare.output_dir, config.name)
    # One comparison writes its report and records at a time: a second fails at once.
    with contextlib.ExitStack() as locks:
        for place in [run_dir, *(_records_dir(phase.config) for phase in phases(config))]:
            locks.enter_context(RunLock(place, "albert-keras compare"))
        return _compare(config, run_dir, progress)


def _compare(config, run_dir: str, progress: bool) -> dict[str, Any]:
    from tqdm.auto import tqdm

    started = time.perf_counter()
    file_io.makedirs(run_dir)
    # One record set per phase (`train.phases`), the last one's (which owns the tokenizer and
    # the held-out pairs) first; one phase: the comparison's records.
    prepared: dict[int, tuple[str, RecordsManifest]] = {}
    fingerprint = None  # The last phase's tokenizer, which every phase's records must share.
    for phase in records_order(phases(config)):
        prepared[phase.index] = _records(phase.config, fingerprint)
        fingerprint = fingerprint or prepared[phase.index][1].tokenizer_fingerprint
    records, manifest = prepared[max(prepared)]
    records_seconds = time.perf_counter() - started
    config, task = downstream_task(config, run_dir)
    plan = dict(records=records, held_out=os.path.join(records, HELD_OUT_DIR),
                tokenizer=os.path.join(records, TOKENIZER_DIR),
                tokens_per_sequence=_tokens_per_sequence(manifest),
                latency_texts=tuple(_latency_texts(config)),
                earlier_phases=tuple((prepared[index][0],
                                      _tokens_per_sequence(prepared[index][1]))
                                     for index in sorted(prepared)[:-1]))
    arms = []
    bar = tqdm(config.compare.arms, desc="compare", unit="arm", disable=not progress,
               file=sys.stderr)
    for arm in bar:
        bar.set_postfix_str(arm.name)
        arms.append(run_arm_in_process(config, arm, ArmPlan(
            **plan, arm_dir=os.path.join(run_dir, "arms", arm.name)), manifest.to_dict()))
    speed_started = time.perf_counter()
    # On the last phase's records, in its settings: the sequences the arms end on.
    speed = speed_in_process(phases(config)[-1].config, records, plan["tokenizer"], run_dir,
                             manifest.to_dict())
    speed_seconds = time.perf_counter() - speed_started

    report = build_report(config, manifest, arms, task, speed)
    from albert_keras.compare.plots import make_plots  # matplotlib only once results exist.

    report["plots"] = make_plots(report, os.path.join(run_dir, "plots"))
    # This run's wall time: records prepared (or checked, when kept), the speed rounds (their
    # process included; about 0 when kept) and the whole job. Arms kept from an earlier run
    # keep the `wall_seconds` of the run that made them.
    report["wall_seconds"] = {"records": records_seconds, "speed": speed_seconds,
                              "total": time.perf_counter() - started}
    write_json_atomic(os.path.join(run_dir, "report.json"), report)
    write_text_atomic(os.path.join(run_dir, "report.md"), report_markdown(report))
    if progress:
        print(report_lib.format_table(report_lib.summary_rows(report)))
        print(f"[compare] report: {os.path.join(run_dir, 'report.md')}")
    return report


def build_report(config, manifest: RecordsManifest, arms: list[dict], task: dict | None,
                 speed: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report dict from the arms' results and their speed rounds (`speed_rounds`): shared
    inputs, views, the paper's claims."""
    train, data = config.train, config.data
    run = phases(config)
    report = {
        "name": config.name,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": _machine(),
        "pair_task": data.pair_task,
        "budget": {"steps": train.steps, "global_batch_size": train.global_batch_size,
                   "eval_every": config.compare.eval_every,
                   "eval_batches": config.compare.eval_batches,
                   "max_minutes_per_arm": config.compare.max_minutes_per_arm,
                   "max_sequence_length": run[-1].config.data.max_sequence_length,
                   "phases": [{"steps": phase.config.train.steps,
                               "max_sequence_length": phase.config.data.max_sequence_length}
                              for phase in run] if train.phases else []},
        "shared": {
            "records": manifest.output_dir, "sequences": manifest.sequences,
            "held_out": manifest.held_out, "tokenizer": manifest.tokenizer_kind,
            "vocabulary_size": manifest.vocabulary_size, "corpus": data.corpus,
            "masking": manifest.masking.to_dict(), "seed": train.seed, "data_seed": data.seed,
            "optimizer": train.optimizer, "learning_rate": train.learning_rate,
            "warmup_steps": train.warmup_steps,
            **dict(zip(("precision", "precision_reason"), resolve_precision(train.precision))),
            "gradient_accumulation_steps": train.gradient_accumulation_steps},
        "downstream_task": task,
        "baseline": {"most_frequent_token_accuracy": arms[0]["most_frequent_token_accuracy"],
                     "pair_chance": 0.5},
        "arms": [with_speed(arm, speed) for arm in arms],
        "speed": speed,
    }
    report["views"] = {"equal_steps": report_lib.equal_steps_view(report["arms"]),
                       "equal_time": report_lib.equal_time_view(report["arms"])}
    report["paper"] = report_lib.paper_claims(report)
    return report


def _check_arm_tokenizers(config) -> None:
    """Arms that start from checkpoints must all use the records' tokenizer (before any work)."""
    checkpoints = arm_checkpoints(config.compare)
    if checkpoints and config.data.tokenizer_path:
        from albert_keras.tokenizers.tokenizer_files import load_tokenizer

        tokenizer = load_tokenizer(config.data.tokenizer_path)
        for path in checkpoints:
            check_tokenizer(path, tokenizer, config.data.tokenizer_path)


def _records_dir(config) -> str:
    return os.path.join(config.data.output_dir, config.name)


def _tokens_per_sequence(manifest: RecordsManifest) -> float:
    """Mean real (non-padding) tokens of a training sequence."""
    return manifest.sequence_tokens / manifest.sequences


def _records(config, tokenizer_fingerprint: str | None = None) -> tuple[str, RecordsManifest]:
    """A record set's directory and manifest (the comparison's, or one phase's); prepared
    when missing or stale (for an earlier phase: also when made with a tokenizer other than
    the one whose `tokenizer_fingerprint` is given, the last phase's)."""
    directory = _records_dir(config)
    try:
        manifest = check_records(directory, os.path.join(directory, TOKENIZER_DIR), config.data)
        if not manifest.held_out:
            raise ValueError(f"no held-out records in {directory}")
        if tokenizer_fingerprint and manifest.tokenizer_fingerprint != tokenizer_fingerprint:
            raise ValueError(f"the records in {directory} were made with another tokenizer "
                             "than the last phase's")
    except (ValueError, FileNotFoundError) as reason:
        if file_io.isdir(directory):
            print(f"[compare] preparing the records again: {reason}")
        prepare_records(config)
        manifest = read_manifest(directory)
    return directory, manifest


def downstream_task(config, run_dir: str):
    """The config with its downstream data set, and a description of that data for the report.

    `finetune.train` given: that data, read the way `finetune` reads it. Null: the built-in
    task (which standard-library package a docstring passage comes from), written as CSV.
    """
    if not config.compare.downstream:
        return config, None
    ft = config.finetune
    if ft.train:
        if not (ft.validation or ft.test or ft.validation_fraction > 0):
            raise ValueError("The downstream runs need held-out rows: set finetune.validation, "
                             "finetune.test or finetune.validation_fraction. Received: none")
        return config, {"source": ft.train, "validation": ft.validation, "test": ft.test,
                        "validation_fraction": ft.validation_fraction,
                        "seeds": list(config.compare.downstream_seeds),
                        "learning_rates": ft.grid(), "epochs": ft.epochs}
    task = _write_builtin_task(config, os.path.join(run_dir, "downstream_data"))
    finetune = dataclasses.replace(ft, task="text_classification", train=task.train,
                                   validation=task.validation, test=task.test, format="csv",
                                   header=True, column_names=(),
                                   text_column="text", text_pair_column=None,
                                   label_column="label", multi_label=False)
    return dataclasses.replace(config, finetune=finetune), {
        "source": "built-in", "description": task.description, "labels": list(task.labels),
        "train_examples": task.train_examples, "validation_examples": task.validation_examples,
        "test_examples": task.test_examples, "seeds": list(config.compare.downstream_seeds),
        "learning_rates": ft.grid(),
        "epochs": ft.epochs}


def _write_builtin_task(config, directory: str):
    """The built-in downstream task written as CSV files in `directory` (a path or a URL)."""
    from albert_keras.tasks.inputs.stdlib_topics import write_stdlib_topic_task

    return write_stdlib_topic_task(
        directory, examples_per_label=config.compare.downstream_examples_per_label,
        validation_fraction=0.2, test_fraction=0.2, seed=config.data.seed)


def _latency_texts(config) -> list[str]:
    """Real sentences of the corpus to time serving requests with."""
    texts = []
    for document in read_documents(config.data.corpus, max_documents=200,
                                   tfds_text_key=config.data.tfds_text_key):
        texts.extend(s for s in document if len(s.split()) >= 4)
        if len(texts) >= _LATENCY_TEXTS:
            break
    return texts[:_LATENCY_TEXTS] or ["A sentence to time the served model with."]


def _machine() -> dict[str, Any]:
    import keras
    import tensorflow as tf

    flags = ""
    if os.path.isfile("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    flags = line.split(":", 1)[1].strip()
                    break
    return {"cpu": flags or platform.processor(), "cores": os.cpu_count(),
            "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "gpus": len(tf.config.list_physical_devices("GPU"))}
