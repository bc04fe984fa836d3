"""The comparison's report: views across arms, the paper's claims beside ours, markdown and table.

Pure functions of the report dict (see `compare`): nothing here trains or reads models.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from albert_keras.jobs.downstream_protocol import MIN_SEEDS
from albert_keras.utils.rounds import MIN_ROUNDS, verdict

PAPER = "ALBERT (Lan et al., 2020, https://arxiv.org/abs/1909.11942)"
_VIEW_SCORES = ("mlm_loss", "mlm_accuracy", "pair_accuracy")


def equal_steps_view(arms: list[dict]) -> dict[str, Any]:
    """Held-out scores of every arm at the largest step all arms reached."""
    step = min(arm["curve"][-1]["step"] for arm in arms)
    return {"step": step, "arms": {arm["name"]: _at(arm["curve"], "step", step) for arm in arms}}


def equal_time_view(arms: list[dict]) -> dict[str, Any]:
    """Held-out scores of every arm after the training time of the quickest arm.

    Scores between two evaluations are interpolated linearly in training seconds.
    """
    seconds = min(arm["curve"][-1]["seconds"] for arm in arms)
    return {"seconds": seconds,
            "arms": {arm["name"]: _at(arm["curve"], "seconds", seconds) for arm in arms}}


def _at(curve: list[dict], key: str, value: float) -> dict[str, float]:
    xs = [point[key] for point in curve]
    scores = {"step": float(np.interp(value, xs, [p["step"] for p in curve]))}
    for name in _VIEW_SCORES:
        scores[name] = float(np.interp(value, xs, [p[name] for p in curve]))
    return scores


def paper_claims(report: dict) -> list[dict[str, str]]:
    """The ALBERT paper's claims (Tables 1-5) beside what this run measured.

    Each row: `claim`, `paper` (the paper's figure), `measured` (this run), `verdict`
    (`agrees`, `differs`, or `cannot conclude` where the speed rounds disagree) and `why`
    (what explains a difference at this scale).
    """
    arms = {arm["name"]: arm for arm in report["arms"]}
    shared = [a for a in arms.values() if a["encoder_config"]["share"] == "all"]
    unshared = [a for a in arms.values() if a["encoder_config"]["share"] == "none"]
    rows = []
    if shared and unshared:
        albert, bert = shared[0], unshared[0]
        ratio = bert["parameters"]["encoder"] / albert["parameters"]["encoder"]
        rows.append(_row(
            "Tables 1-2: sharing all layers and factorizing the embedding cut parameters",
            "BERT-base 108M vs ALBERT-base 12M (9x fewer); BERT-large 334M vs ALBERT-large 18M",
            f"{bert['name']} {_millions(bert['parameters']['encoder'])} vs {albert['name']} "
            f"{_millions(albert['parameters']['encoder'])} ({ratio:.1f}x fewer)",
            ratio > 1.5, "The ratio depends on depth, width and vocabulary: a shallow, "
            "small-vocabulary model has less to share."))
        rows.append(_speed_row(report, albert, bert))
        memory = albert["train_memory_mb"] / max(bert["train_memory_mb"], 1e-9)
        rows.append(_row(
            "Section 3: fewer parameters lower memory",
            "memory is what limits BERT-large's size on accelerators",
            f"{albert['name']} / {bert['name']} training memory = {memory:.2f}",
            memory < 1.0, "Activations, not weights, dominate training memory at this size; "
            "weights and the optimizer's two moments scale with the parameters."))
        if albert.get("downstream") and bert.get("downstream"):
            gap = bert["downstream"]["pretrained"]["mean"] - albert["downstream"]["pretrained"]["mean"]
            spread = max(bert["downstream"]["pretrained"]["std"],
                         albert["downstream"]["pretrained"]["std"])
            rows.append(_row(
                "Table 2: at base size, all-shared ALBERT trails BERT downstream",
                "ALBERT-base avg 80.1 vs BERT-base 82.3 (-2.2)",
                f"{albert['name']} - {bert['name']} downstream = {-gap:+.3f} (seed spread "
                f"{spread:.3f})", gap > 0, "Tiny models pretrained for minutes sit far from "
                "convergence, where fewer parameters can train as fast per step."))
    ablations = {a["encoder_config"]["share"]: a for a in arms.values()}
    if {"attention", "ffn"} <= set(ablations):
        attention, ffn = ablations["attention"], ablations["ffn"]
        better = attention["final"]["mlm_loss"] < ffn["final"]["mlm_loss"]
        rows.append(_row(
            "Table 4: sharing the FFN hurts more than sharing attention",
            "E=128: shared-attention +0.1 avg vs not-shared, shared-FFN and all-shared "
            "lower; E=768: all-shared -2.5",
            f"held-out MLM loss: shared-attention {attention['final']['mlm_loss']:.3f}, "
            f"shared-FFN {ffn['final']['mlm_loss']:.3f}", better,
            "Held-out MLM loss after a short run stands in for the paper's downstream average."))
    pair_task = report["pair_task"].upper()
    for arm in arms.values():
        accuracy = arm["final"]["pair_accuracy"]
        fitted = arm["final"].get("train_pair_accuracy")
        measured = (f"held-out {pair_task} accuracy {held_out_accuracy(arm, 'pair_accuracy')} "
                    f"after {arm['final']['step']} steps")
        why = ("Sentence order needs discourse knowledge that a tiny model gains only after many "
               "steps; at chance early in training.")
        if fitted is not None and fitted >= max(0.6, accuracy + 0.1):
            measured += f" (training batches: {fitted:.3f})"
            why = ("The model fits the order of its training pairs but does not generalize to "
                   "new documents: too little text to learn discourse order (memorized).")
        rows.append(_row(
            f"Table 5: {pair_task} is learnable ({arm['name']})",
            "SOP-trained ALBERT-base: 86.5% on SOP; an NSP-trained one 52.0% on SOP (chance)",
            measured, accuracy >= 0.6, why))
    for arm in arms.values():
        downstream = arm.get("downstream")
        if not downstream:
            continue
        gain = downstream["gain"]
        rows.append(_row(
            f"Pretraining helps downstream ({arm['name']})",
            "the premise of the paper (and of BERT): pretrained >> trained from scratch",
            f"paired gain {format_gain(gain)} {downstream['metric']} on "
            f"{downstream['split']}",
            None if gain["verdict"] == "cannot conclude" else gain["verdict"] == "gain",
            "Small corpora and short runs give small gains; the verdict asks the median and "
            f"4 of 5 seeds to agree (and at least {MIN_SEEDS} seeds)."))
    return rows


def _row(claim: str, paper: str, measured: str, agrees: bool | None,
         why: str) -> dict[str, str]:
    """A claim's row; `agrees` None: the measurement cannot conclude either way."""
    said = "cannot conclude" if agrees is None else "agrees" if agrees else "differs"
    return {"claim": claim, "paper": paper, "measured": measured, "verdict": said,
            "why": "" if agrees else why}


def _speed_ratio_rounds(report: dict, albert: dict, bert: dict) -> tuple[list[float], float]:
    """ALBERT's tokens/s over BERT's, per speed round (`report["speed"]`), and the verdict
    rule's tolerance. A report without rounds gives the training runs' one ratio, one round:
    too few for the verdict rule to conclude."""
    ratios = ((report.get("speed") or {}).get("ratios") or {}).get(albert["name"])
    if ratios and ratios["b"] == bert["name"]:
        return list(ratios["speed_ratio_rounds"]), float(ratios["tolerance"])
    return [albert["tokens_per_second"] / bert["tokens_per_second"]], 0.0


def _speed_row(report: dict, albert: dict, bert: dict) -> dict[str, str]:
    """Table 2's speed claim, from the per-round ratios: agrees when the rounds say faster,
    differs when they say slower, cannot conclude when they disagree (or are too few)."""
    rounds, tolerance = _speed_ratio_rounds(report, albert, bert)
    said = verdict(rounds, tolerance)
    measured = f"{albert['name']} / {bert['name']} training tokens/s = "
    if len(rounds) == 1:
        measured += f"{rounds[0]:.2f} (one training run each): {said}"
    else:
        measured += (f"{float(np.median(rounds)):.2f} [{min(rounds):.2f}, {max(rounds):.2f}] "
                     f"over {len(rounds)} alternated rounds: {said}")
    why = ("Sharing removes parameters, not computation: both arms do the same matrix products "
           "per token. The paper's speed-up at equal shape comes from communicating 18x fewer "
           "gradients between TPU cores and a narrower embedding; on one device only the "
           "optimizer update and memory traffic shrink.")
    if said == "cannot conclude" and len(rounds) < MIN_ROUNDS:
        why = f"Fewer than {MIN_ROUNDS} rounds (one training run each) cannot tell. " + why
    elif said == "cannot conclude":
        why = ("The rounds disagree: the difference, if any, is within this machine's noise. "
               + why)
    return _row("Table 2: at the same depth and width, ALBERT trains faster than BERT",
                "ALBERT-large 1.7x BERT-large's speed (both 24 layers, width 1024), on TPUs",
                measured, {"faster": True, "slower": False}.get(said), why)


def _millions(count: int) -> str:
    return f"{count / 1e6:.2f}M"


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def summary_rows(report: dict) -> list[list[str]]:
    """Header and one row per arm: the numbers a reader wants first."""
    header = ["arm", "share", "E", "encoder params", "MB fp32", "tokens/s", "train mem MB",
              "p50 ms (1)", "p50 ms (32)", "MLM loss", "MLM acc",
              f"{report['pair_task'].upper()} acc", "downstream pretrained",
              "downstream random init", "paired gain"]
    rows = [header]
    for arm in report["arms"]:
        config, final = arm["encoder_config"], arm["final"]
        downstream = arm.get("downstream") or {}
        rows.append([
            arm["name"], config["share"], str(config["embedding_dim"] or config["hidden_dim"]),
            _millions(arm["parameters"]["encoder"]), _number(arm["weights_mb"], 1),
            _speed(arm), _number(arm["train_memory_mb"], 0),
            _number(arm["latency_ms"]["batch_1"]["p50_ms"], 1),
            _number(arm["latency_ms"]["batch_32"]["p50_ms"], 1),
            _number(final["mlm_loss"]), held_out_accuracy(arm, "mlm_accuracy"),
            held_out_accuracy(arm, "pair_accuracy"), _spread(downstream.get("pretrained")),
            _spread(downstream.get("random_init")),
            format_gain(downstream["gain"]) if downstream else "-"])
    return rows


def held_out_accuracy(arm: dict, name: str) -> str:
    """`0.130 [0.121, 0.139]`: the final held-out `mlm_accuracy` or `pair_accuracy` and its
    95% interval (`held_out_intervals`); the value alone for an arm recorded without one."""
    intervals = arm.get("held_out_intervals")
    if not intervals:
        return _number(arm["final"][name])
    return (f"{intervals[name]:.3f} [{intervals[name + '_low']:.3f}, "
            f"{intervals[name + '_high']:.3f}]")


def _speed(arm: dict) -> str:
    """Tokens/s: the median of the speed rounds and their range, or the one figure."""
    if "tokens_per_second_rounds" not in arm:
        return _number(arm["tokens_per_second"], 0)
    return (f"{_number(arm['tokens_per_second'], 0)} [{_number(arm['tokens_per_second_min'], 0)}"
            f", {_number(arm['tokens_per_second_max'], 0)}]")


def _spread(scores: dict | None) -> str:
    """Median and range over seeds."""
    return f"{scores['median']:.3f} [{scores['min']:.3f}, {scores['max']:.3f}]" if scores else "-"


def format_gain(gain: dict) -> str:
    """`+0.052 [-0.010, +0.090], 4/5 seeds > 0: gain`."""
    seeds = len(gain["values"])
    return (f"{gain['median']:+.3f} [{gain['min']:+.3f}, {gain['max']:+.3f}], "
            f"{gain['positive_seeds']}/{seeds} seeds > 0: {gain['verdict']}")


def answer_lines(report: dict) -> list[str]:
    """What `report.md` opens with: did pretraining pay at this budget, per arm, and by how
    much (the paired downstream gain and its verdict)."""
    budget = report["budget"]
    lines = []
    for arm in report["arms"]:
        downstream = arm.get("downstream")
        checkpoint = (arm.get("arm") or {}).get("pretrained")
        start = f"from {checkpoint}" if checkpoint else "from random weights"
        steps = arm["final"]["step"]
        if not downstream:
            lines.append(f"- **{arm['name']}** ({start}, {steps} steps): no downstream runs.")
            continue
        gain = downstream["gain"]
        paid = {"gain": "paid", "loss": "cost", "no difference": "made no clear difference",
                "cannot conclude": f"cannot be judged on {len(gain['values'])} seed(s)"}
        lines.append(
            f"- **{arm['name']}** ({start}, {steps} of {budget['steps']} steps of "
            f"{budget['global_batch_size']}): pretraining {paid[gain['verdict']]}: paired "
            f"{downstream['split']} {downstream['metric']} gain over the random-init twin "
            f"{format_gain(gain)} (pretrained {_spread(downstream['pretrained'])} at learning "
            f"rate {downstream['pretrained']['learning_rate']}, twin "
            f"{_spread(downstream['random_init'])} at "
            f"{downstream['random_init']['learning_rate']}).")
    return lines


def format_table(rows: list[list[str]]) -> str:
    """Rows as aligned plain text (the command's last output)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in rows)


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)
