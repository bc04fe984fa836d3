"""`report_markdown`: the comparison's `report.md` — tables, plots and the paper beside this run."""

from __future__ import annotations

from typing import Any

from albert_keras.compare.report import (PAPER, answer_lines, format_gain, markdown_table,
                                         summary_rows)
from albert_keras.jobs.downstream_protocol import GAIN_RULE

_PLOT_TITLES = {
    "mlm_loss_vs_steps": "Held-out masked-LM loss against steps",
    "mlm_loss_vs_seconds": "Held-out masked-LM loss against training seconds",
    "pair_accuracy_vs_steps": "Held-out sentence-pair accuracy against steps",
    "parameters_vs_downstream": "Parameters against downstream score",
    "speed_and_memory": "Training tokens/s and memory",
    "pretrained_vs_random_init": "Pretrained against random initialisation, downstream",
}


def report_markdown(report: dict[str, Any]) -> str:
    """The markdown report; images are referenced by the paths in `report["plots"]`."""
    budget, shared = report["budget"], report["shared"]
    pair = report["pair_task"].upper()
    plots = report.get("plots", {})
    lines = [
        f"# Comparison `{report['name']}`", "",
        "## The answer", "", *answer_lines(report), "",
        f"Verdict rule: {GAIN_RULE}", "", "## The setup", "",
        f"{len(report['arms'])} arms, each pretrained from random weights or its checkpoint for "
        f"{budget['steps']} steps of {budget['global_batch_size']} sequences "
        f"(≤ {budget['max_sequence_length']} tokens) on the same records "
        f"({shared['sequences']:,} training sequences from `{shared['corpus']}`), with the same "
        f"{shared['tokenizer']} tokenizer ({shared['vocabulary_size']:,} tokens), "
        f"{shared['optimizer']} at peak learning rate {shared['learning_rate']}, "
        f"{shared['precision']}, seed {shared['seed']} (data seed {shared['data_seed']}). "
        f"Held-out scores: {budget['eval_batches']} fixed batches of pairs from "
        f"{shared['held_out']['documents']} documents never trained on, every "
        f"{budget['eval_every']} steps. Machine: {report['machine']['cpu']}, "
        f"{report['machine']['cores']} cores, TensorFlow {report['machine']['tensorflow']}."
        + _wall_time(report),
        "", "## Summary", "", markdown_table(summary_rows(report)), "",
        "Parameters are the encoder's (embeddings, transformer, pooler; no pretraining heads). "
        "Tokens/s counts real (non-padding) tokens" + _speed_source(report) + ". Training memory "
        "is the peak resident memory of the arm's process during training minus that before the "
        "model was built. Latency is "
        "the exported raw-text SavedModel, loaded the way TensorFlow Serving loads it, at 1 "
        "and 32 texts per request." + _interval_sentence(report), "",
        "## Parameters", "", _parameters_table(report), "",
        "## Equal steps and equal time", "", _views_table(report), "",
    ]
    for name in ("mlm_loss_vs_steps", "mlm_loss_vs_seconds", "pair_accuracy_vs_steps"):
        lines += _image(plots, name)
    lines += ["## Downstream: pretrained against random initialisation", ""]
    task = report.get("downstream_task")
    if task:
        source = task.get("description") or task["source"]
        rates = task.get("learning_rates") or []
        choice = (f"each at the learning rate of the grid {rates} with the best median "
                  "validation score (chosen separately for the encoder and its twin), scored on "
                  "the test split, never used for choosing" if len(rates) > 1 else
                  f"at learning rate {rates[0] if rates else '-'}")
        lines += [f"Task: {source}. Each arm's pretrained encoder and the same architecture from "
                  f"random weights (its twin) are fine-tuned with the `finetune` settings "
                  f"({task['epochs']} epochs, no early stopping, last epoch scored) once per "
                  f"seed {task['seeds']}, {choice}. Scores: median [min, max] over seeds; the "
                  "gain is paired by seed (same data order and head initialisation).", "",
                  _downstream_table(report), ""]
        for name in ("pretrained_vs_random_init", "parameters_vs_downstream"):
            lines += _image(plots, name)
    else:
        lines += ["Not run (`compare.downstream: false`).", ""]
    lines += ["## Speed and memory", "", *_speed_lines(report)] + _image(plots, "speed_and_memory")
    lines += ["## The paper beside this run", "",
              f"Claims of {PAPER}, Tables 1-5, and what this run measured. The paper trained "
              "for 125k steps at batch 4096 on 16 GB of text; a run on a laptop-sized budget "
              "can only test the direction of each claim.", "",
              "| claim | paper | this run | verdict | why it may differ |", "|---|---|---|---|---|"]
    lines += [f"| {row['claim']} | {row['paper']} | {row['measured']} | {row['verdict']} | "
              f"{row['why']} |" for row in report["paper"]]
    lines += ["", f"{pair} accuracy of a model that learned nothing is 0.5.", ""]
    return "\n".join(lines)


def _interval_sentence(report: dict) -> str:
    """How the held-out accuracies' intervals were made (" ..."), or "" without any."""
    entries = [arm["held_out_intervals"] for arm in report["arms"]
               if arm.get("held_out_intervals")]
    if not entries:
        return ""
    first = entries[0]
    said = (f" Held-out accuracies read value [low, high]: a {first['confidence']:.0%} "
            f"percentile-bootstrap interval ({first['resamples']} resamples) over ")
    if first["interval_grouping"] == "document":
        return said + (f"the {first['num_documents']} held-out documents the "
                       f"{first['num_pairs']} scored pairs come from, resampled whole: pairs "
                       "of one document are alike, not independent draws.")
    return said + (f"the {first['num_pairs']} scored pairs, each on its own: these records "
                   "carry no document ids, so the interval is too narrow when pairs of one "
                   "document are alike.")


def _speed_source(report: dict) -> str:
    """Where the summary's tokens/s come from: the speed rounds, or the training runs."""
    speed = report.get("speed")
    if not speed:
        return ": one training run per arm"
    return (f": median [min, max] of {speed['rounds']} alternated speed rounds after training "
            "(see Speed and memory)")


def _speed_lines(report: dict) -> list[str]:
    """The speed rounds (each arm's tokens/s per round, the per-round ratios and their
    verdict) and why memory is measured per arm; nothing for a report made without them."""
    speed = report.get("speed")
    if not speed:
        return []
    rows = [["arm", "tokens/s per round", "median [min, max]", "training run's tokens/s",
             "train memory MB", "peak memory MB"]]
    for arm in report["arms"]:
        rounds = speed["arms"].get(arm["name"])
        if rounds:
            rows.append([arm["name"], ", ".join(f"{v:,.0f}" for v in rounds["rounds"]),
                         f"{rounds['median']:,.0f} [{rounds['min']:,.0f}, {rounds['max']:,.0f}]",
                         f"{arm.get('train_tokens_per_second', float('nan')):,.0f}",
                         f"{arm['train_memory_mb']:,.0f}", f"{arm['peak_memory_mb']:,.0f}"])
    order = " | ".join(" ".join(names) for names in speed["order"])
    lines = [
        f"Speed comes from alternated rounds, not from the training runs: once every arm had "
        f"pretrained, one fresh process built each arm as it trained ({speed['precision']}, "
        f"{speed['device']}), warmed it up, then timed {speed['steps_per_round']} train steps "
        f"per arm and round on the same batches ({speed['real_tokens_per_round']:,} real "
        f"tokens), in {speed['rounds']} rounds of alternated order ({order}), so that every "
        f"arm saw the same machine load, early and late alike. Load average before and after: "
        f"{speed['load_average_before']} / {speed['load_average_after']}; the stage took "
        f"{_duration(speed['seconds'])} in its process. A training run's own tokens/s (one "
        "run, alone on the machine at its time) is in the table for reference; the equal-time "
        "view rests on it.", "", markdown_table(rows), ""]
    for ratio in speed["ratios"].values():
        lines.append(
            f"- {ratio['a']} / {ratio['b']} tokens/s per round: "
            f"{', '.join(f'{r:.2f}' for r in ratio['speed_ratio_rounds'])}; median "
            f"{ratio['median']:.2f} [{ratio['min']:.2f}, {ratio['max']:.2f}]: "
            f"**{ratio['verdict']}**.")
    lines += ["", f"Verdict rule: {speed['verdict_rule']} Tolerance: {speed['tolerance']}.", "",
              "Memory is measured per arm, in the arm's own training process: a process's peak "
              "resident memory is its own, so arms measured in one process would hide each "
              "other's peaks. Training memory is that peak minus the memory before the model "
              "was built.", ""]
    return lines


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _wall_time(report: dict) -> str:
    """` Wall time: ...` for the setup paragraph ('' for a report made before it was kept)."""
    wall = report.get("wall_seconds")
    if not wall:
        return ""
    arms = "; ".join(f"{arm['name']}: pretraining {_duration(arm['wall_seconds']['pretraining'])}"
                     f", downstream {_duration(arm['wall_seconds']['downstream'])}"
                     for arm in report["arms"] if arm.get("wall_seconds"))
    speed = f"; speed rounds {_duration(wall['speed'])}" if "speed" in wall else ""
    return (f" Wall time: {_duration(wall['total'])} (records {_duration(wall['records'])}"
            + (f"; {arms}" if arms else "") + speed + ").")


def _image(plots: dict[str, str], name: str) -> list[str]:
    if name not in plots:
        return []
    return [f"![{_PLOT_TITLES[name]}]({plots[name]})", ""]


def _parameters_table(report: dict) -> str:
    rows = [["arm", "embeddings", "transformer", "pooler", "encoder", "heads", "total",
             ".keras MB", "SavedModel MB"]]
    for arm in report["arms"]:
        p = arm["parameters"]
        rows.append([arm["name"], *(f"{p[k]:,}" for k in ("embeddings", "transformer", "pooler",
                                                           "encoder", "heads", "total")),
                     f"{arm['keras_file_mb']:.2f}", f"{arm['saved_model_mb']:.2f}"])
    return markdown_table(rows)


def _views_table(report: dict) -> str:
    steps, time = report["views"]["equal_steps"], report["views"]["equal_time"]
    pair = report["pair_task"].upper()
    rows = [["arm", f"MLM loss @ {steps['step']} steps", f"{pair} acc @ {steps['step']} steps",
             f"MLM loss @ {time['seconds']:.0f} s", f"{pair} acc @ {time['seconds']:.0f} s",
             f"step reached @ {time['seconds']:.0f} s"]]
    for arm in report["arms"]:
        at_steps, at_time = steps["arms"][arm["name"]], time["arms"][arm["name"]]
        rows.append([arm["name"], f"{at_steps['mlm_loss']:.3f}", f"{at_steps['pair_accuracy']:.3f}",
                     f"{at_time['mlm_loss']:.3f}", f"{at_time['pair_accuracy']:.3f}",
                     f"{at_time['step']:.0f}"])
    return markdown_table(rows)


def _downstream_table(report: dict) -> str:
    rows = [["arm", "split", "pretrained (rate)", "random init (rate)", "paired gain",
             "per seed (pretrained / random)"]]
    for arm in report["arms"]:
        d = arm.get("downstream")
        if not d:
            continue
        seeds = ", ".join(f"{p:.3f} / {r:.3f}" for p, r in
                          zip(d["pretrained"]["values"], d["random_init"]["values"]))
        cells = [f"{part['median']:.3f} [{part['min']:.3f}, {part['max']:.3f}] "
                 f"({part['learning_rate']})" for part in (d["pretrained"], d["random_init"])]
        rows.append([arm["name"], d["split"], *cells, format_gain(d["gain"]), seeds])
    return markdown_table(rows)
