"""The report's views, the paper's claims and the markdown, from synthetic arm results."""

import math

import pytest

from albert_keras.compare import report as report_lib
from albert_keras.compare.report_markdown import report_markdown
from albert_keras.compare.speed_rounds import speed_section, with_speed
from albert_keras.jobs.downstream_protocol import GAIN_RULE


def _arm(name, share, encoder, seconds_per_step, losses, pair, downstream):
    steps = [0, 50, 100]
    return {
        "name": name, "encoder_config": {"share": share, "embedding_dim": 128 if share == "all"
                                         else None, "hidden_dim": 256},
        "parameters": {"embeddings": encoder // 4, "transformer": encoder // 2, "pooler": 100,
                       "encoder": encoder, "heads": 1000, "total": encoder + 1000},
        "weights_mb": encoder * 4 / 2**20, "keras_file_mb": 1.0, "saved_model_mb": 2.0,
        "tokens_per_second": 1000.0 / seconds_per_step, "peak_memory_mb": 900.0,
        "train_memory_mb": 300.0 if share == "all" else 400.0,
        "latency_ms": {"batch_1": {"p50_ms": 3.0}, "batch_32": {"p50_ms": 30.0}},
        "curve": [{"step": s, "seconds": s * seconds_per_step, "mlm_loss": loss,
                   "mlm_accuracy": 1 / loss, "pair_loss": 0.69, "pair_accuracy": p}
                  for s, loss, p in zip(steps, losses, pair)],
        "final": {"step": 100, "seconds": 100 * seconds_per_step, "mlm_loss": losses[-1],
                  "mlm_accuracy": 1 / losses[-1], "pair_loss": 0.6, "pair_accuracy": pair[-1]},
        "downstream": _downstream(*downstream),
    }


def _downstream(pretrained, random_init):
    """A `downstream` entry as `downstream_twins` makes it, from per-seed test scores."""
    from albert_keras.jobs.downstream_protocol import paired_gain, summary

    return {"metric": "accuracy", "split": "test", "selection_split": "validation",
            "seeds": list(range(len(pretrained))), "learning_rates": [1e-4, 5e-4],
            "pretrained": {"learning_rate": 1e-4, "values": list(pretrained),
                           **summary(pretrained), "validation": {}},
            "random_init": {"learning_rate": 5e-4, "values": list(random_init),
                            **summary(random_init), "validation": {}},
            "gain": paired_gain(pretrained, random_init)}


def _speed(bert, albert, tolerance=0.0):
    """A `speed` section as the speed rounds make it, from each arm's tokens/s per round."""
    return {"steps_per_round": 10, "real_tokens_per_round": 5000, "precision": "float32",
            "device": "CPU", **speed_section({"bert": bert, "albert": albert},
                                             {"bert": "none", "albert": "all"}, tolerance),
            "load_average_before": [1.0, 0.9, 0.8], "load_average_after": [1.1, 0.9, 0.8],
            "seconds": 42.0}


def _as_trained(arm):
    """An arm's entry as its own process wrote it: its training run's tokens/s, no rounds."""
    entry = {k: v for k, v in arm.items() if not k.startswith("tokens_per_second_")
             and k != "train_tokens_per_second"}
    return {**entry, "tokens_per_second": arm.get("train_tokens_per_second",
                                                  arm["tokens_per_second"])}


def _with_rounds(report, bert, albert):
    """`report` with speed rounds: each arm's tokens/s per round (`bert`, `albert`)."""
    speed = _speed(bert, albert)
    return {**report, "speed": speed,
            "arms": [with_speed(_as_trained(arm), speed) for arm in report["arms"]]}


@pytest.fixture
def report():
    arms = [_arm("bert", "none", 4_000_000, 0.5, [8.0, 6.0, 5.0], [0.5, 0.55, 0.7],
                 ([0.80, 0.82, 0.79, 0.81, 0.83], [0.60, 0.62, 0.61, 0.85, 0.63])),
            _arm("albert", "all", 1_300_000, 0.4, [8.0, 6.5, 5.5], [0.5, 0.52, 0.55],
                 ([0.70, 0.72, 0.71, 0.70, 0.69], [0.69, 0.73, 0.71, 0.68, 0.70]))]
    report = {"name": "c", "pair_task": "sop", "arms": arms,
              "machine": {"cpu": "a CPU", "cores": 2, "tensorflow": "2.21.0"},
              "budget": {"steps": 100, "global_batch_size": 32, "eval_every": 50,
                         "eval_batches": 10, "max_minutes_per_arm": None,
                         "max_sequence_length": 128},
              "shared": {"records": "r", "sequences": 1000, "held_out": {"documents": 5},
                         "tokenizer": "sentencepiece", "vocabulary_size": 4000,
                         "corpus": "stdlib", "masking": {}, "seed": 0, "data_seed": 1,
                         "optimizer": "lamb", "learning_rate": 0.005, "warmup_steps": 10,
                         "precision": "float32"},
              "downstream_task": {"source": "built-in", "description": "Which package",
                                  "seeds": [0, 1], "epochs": 3},
              "plots": {"mlm_loss_vs_steps": "plots/mlm_loss_vs_steps.png",
                        "speed_and_memory": "plots/speed_and_memory.png"}}
    # Per round, albert / bert = 1.25, 1.29, 1.24: faster in every round.
    report = _with_rounds(report, [2000.0, 1900.0, 2100.0], [2500.0, 2450.0, 2600.0])
    arms = report["arms"]
    report["views"] = {"equal_steps": report_lib.equal_steps_view(arms),
                       "equal_time": report_lib.equal_time_view(arms)}
    report["paper"] = report_lib.paper_claims(report)
    return report


def test_equal_time_interpolates_each_curve_at_the_quickest_arms_seconds(report):
    view = report["views"]["equal_time"]
    assert view["seconds"] == pytest.approx(40.0)  # albert: 100 steps x 0.4 s
    bert = view["arms"]["bert"]  # 40 s = step 80 of bert's 0.5 s steps: 6.0 + 0.6 * (5.0 - 6.0)
    assert bert["step"] == pytest.approx(80) and bert["mlm_loss"] == pytest.approx(5.4)
    assert bert["pair_accuracy"] == pytest.approx(0.55 + 0.6 * 0.15)
    assert view["arms"]["albert"]["mlm_loss"] == pytest.approx(5.5)
    steps = report["views"]["equal_steps"]
    assert steps["step"] == 100 and steps["arms"]["bert"]["mlm_loss"] == pytest.approx(5.0)


def test_paper_claims_say_where_this_run_agrees_and_where_it_differs(report):
    rows = {row["claim"]: row for row in report["paper"]}
    parameters = rows["Tables 1-2: sharing all layers and factorizing the embedding cut parameters"]
    assert parameters["verdict"] == "agrees" and "3.1x fewer" in parameters["measured"]
    speed = rows["Table 2: at the same depth and width, ALBERT trains faster than BERT"]
    assert speed["verdict"] == "agrees"
    assert speed["measured"] == ("albert / bert training tokens/s = 1.25 [1.24, 1.29] over 3 "
                                 "alternated rounds: faster")
    trails = rows["Table 2: at base size, all-shared ALBERT trails BERT downstream"]
    assert trails["verdict"] == "agrees" and "-0.106" in trails["measured"]
    assert rows["Table 5: SOP is learnable (bert)"]["verdict"] == "agrees"
    albert_sop = rows["Table 5: SOP is learnable (albert)"]
    assert albert_sop["verdict"] == "differs" and albert_sop["why"]
    bert = rows["Pretraining helps downstream (bert)"]  # 4 of 5 seeds gain: a gain.
    assert bert["verdict"] == "agrees" and "4/5 seeds > 0: gain" in bert["measured"]
    albert = rows["Pretraining helps downstream (albert)"]  # 2 of 5: no difference.
    assert albert["verdict"] == "differs" and "no difference" in albert["measured"]


def test_table_4_row_appears_with_the_sharing_ablations(report):
    arms = report["arms"] + [
        _arm("attention", "attention", 2_000_000, 0.45, [8, 6, 5.2], [0.5, 0.5, 0.5],
             ([0.7] * 5, [0.6] * 5)),
        _arm("ffn", "ffn", 3_000_000, 0.45, [8, 6, 5.4], [0.5, 0.5, 0.5],
             ([0.7] * 5, [0.6] * 5))]
    rows = report_lib.paper_claims({**report, "arms": arms})
    table_4 = [row for row in rows if row["claim"].startswith("Table 4")]
    assert len(table_4) == 1 and table_4[0]["verdict"] == "agrees"


def test_markdown_has_the_tables_images_and_paper_section(report):
    text = report_markdown(report)
    for heading in ("## Summary", "## Parameters", "## Equal steps and equal time",
                    "## Downstream: pretrained against random initialisation",
                    "## The paper beside this run"):
        assert heading in text
    assert "![Held-out masked-LM loss against steps](plots/mlm_loss_vs_steps.png)" in text
    assert "(plots/mlm_loss_vs_seconds.png)" not in text  # Only the plots that exist.
    assert "| bert | none | 256 | 4.00M |" in text
    assert text.index("## The answer") < text.index("## The setup") < text.index("## Summary")
    answer = text[text.index("## The answer"):text.index("## The setup")]
    assert "**bert** (from random weights, 100 of 100 steps of 32): pretraining paid" in answer
    # The protocol's one written rule, as the benchmark tables print it too.
    assert f"Verdict rule: {GAIN_RULE}" in answer and "fewer than 3 seeds" in GAIN_RULE
    assert "+0.200 [-0.040, +0.200], 4/5 seeds > 0: gain" in answer
    assert "**albert**" in answer and "made no clear difference" in answer
    assert "| bert | test | 0.810 [0.790, 0.830] (0.0001) | 0.620 [0.600, 0.850] (0.0005) |" \
        in text
    rows = report_lib.summary_rows(report)
    assert len(rows) == 3 and len(set(map(len, rows))) == 1
    table = report_lib.format_table(rows)
    assert table.splitlines()[1].startswith("bert ") and "SOP acc" in table.splitlines()[0]


def test_missing_numbers_print_as_a_dash():
    assert report_lib._number(float("nan")) == "-" and report_lib._number(None) == "-"
    assert report_lib._number(1234) == "1,234" and not math.isnan(1.0)


def test_a_pair_task_fitted_on_training_batches_only_is_called_memorized(report):
    albert = report["arms"][1]
    arms = [report["arms"][0], {**albert, "final": {**albert["final"], "train_pair_accuracy": 0.93}}]
    rows = {row["claim"]: row for row in report_lib.paper_claims({**report, "arms": arms})}
    row = rows["Table 5: SOP is learnable (albert)"]
    assert row["verdict"] == "differs" and "(training batches: 0.930)" in row["measured"]
    assert "memorized" in row["why"]
    assert "memorized" not in rows["Table 5: SOP is learnable (bert)"]["why"]


def test_markdown_gives_the_wall_time_of_each_stage(report):
    assert "Wall time" not in report_markdown(report)  # A report made before it was kept.
    report["wall_seconds"] = {"records": 65.4, "total": 1180.2}
    report["arms"][0]["wall_seconds"] = {"pretraining": 240.0, "downstream": 5.2}
    text = report_markdown(report)
    assert ("Wall time: 19 min 40 s (records 1 min 5 s; bert: pretraining 4 min 0 s, "
            "downstream 5 s).") in text
    report["wall_seconds"]["speed"] = 41.6
    assert ("Wall time: 19 min 40 s (records 1 min 5 s; bert: pretraining 4 min 0 s, "
            "downstream 5 s; speed rounds 42 s).") in report_markdown(report)


SPEED_CLAIM = "Table 2: at the same depth and width, ALBERT trains faster than BERT"


@pytest.mark.parametrize("bert, albert, verdict, measured, why", [
    # Ratios 1.30, 0.90, 1.10: the rounds disagree, whatever the median says.
    ([1000.0, 1000.0, 1000.0], [1300.0, 900.0, 1100.0], "cannot conclude",
     "= 1.10 [0.90, 1.30] over 3 alternated rounds: cannot conclude", "The rounds disagree"),
    ([1000.0, 1000.0, 1000.0], [700.0, 800.0, 950.0], "differs",
     "= 0.80 [0.70, 0.95] over 3 alternated rounds: slower", "Sharing removes parameters"),
    ([1000.0, 1000.0, 1000.0], [1010.0, 1300.0, 1200.0], "agrees",
     "= 1.20 [1.01, 1.30] over 3 alternated rounds: faster", None),
])
def test_the_speed_claim_follows_the_rounds_verdict(report, bert, albert, verdict, measured,
                                                    why):
    rows = report_lib.paper_claims(_with_rounds(report, bert, albert))
    row = next(row for row in rows if row["claim"] == SPEED_CLAIM)
    assert row["verdict"] == verdict and row["measured"].endswith(measured)
    assert row["why"].startswith(why) if why else row["why"] == ""


def test_the_speed_claim_cannot_conclude_from_one_training_run_each(report):
    # A report made before the speed rounds: each arm's one training figure, 2500 / 2000.
    arms = [_as_trained(arm) for arm in report["arms"]]
    rows = report_lib.paper_claims({**report, "arms": arms, "speed": None})
    row = next(row for row in rows if row["claim"] == SPEED_CLAIM)
    assert row["verdict"] == "cannot conclude"
    assert row["measured"] == ("albert / bert training tokens/s = 1.25 (one training run each): "
                               "cannot conclude")
    assert row["why"].startswith("Fewer than 3 rounds")


def test_the_tolerance_widens_what_cannot_conclude(report):
    speed = _speed([1000.0] * 3, [1030.0, 1040.0, 1060.0], tolerance=0.05)
    rows = report_lib.paper_claims({**report, "speed": speed})
    assert next(r for r in rows if r["claim"] == SPEED_CLAIM)["verdict"] == "cannot conclude"


def test_markdown_gives_speed_as_median_and_range_of_alternated_rounds(report):
    text = report_markdown(report)
    assert "| bert | none | 256 | 4.00M | 15.3 | 2000 [1900, 2100] | 400 |" in text
    assert "median [min, max] of 3 alternated speed rounds after training" in text
    speed = text[text.index("## Speed and memory"):text.index("## The paper beside this run")]
    assert "Speed comes from alternated rounds, not from the training runs" in speed
    assert "in 3 rounds of alternated order (bert albert | albert bert | bert albert)" in speed
    assert "| bert | 2,000, 1,900, 2,100 | 2,000 [1,900, 2,100] | 2,000 | 400 | 900 |" in speed
    assert ("- albert / bert tokens/s per round: 1.25, 1.29, 1.24; median 1.25 [1.24, 1.29]: "
            "**faster**.") in speed
    assert "Verdict rule: Per round, speed ratio" in speed and "Tolerance: 0.0." in speed
    assert "a process's peak resident memory is its own" in speed
    assert "![Training tokens/s and memory](plots/speed_and_memory.png)" in speed
    # A report made before the speed rounds says where its one figure comes from.
    old = report_markdown({**report, "speed": None,
                           "arms": [_as_trained(arm) for arm in report["arms"]]})
    assert "Tokens/s counts real (non-padding) tokens: one training run per arm." in old
    assert "Speed comes from alternated rounds" not in old
    assert "| bert | none | 256 | 4.00M | 15.3 | 2000 | 400 |" in old


def _intervals(mlm, pair, grouping="document"):
    """A `held_out_intervals` entry: (value, low, high) for MLM and pair accuracy."""
    return {"step": 100, "interval_grouping": grouping,
            "num_documents": 37 if grouping == "document" else None, "num_pairs": 320,
            "num_masked_tokens": 3000.0, "confidence": 0.95, "resamples": 1000, "seed": 0,
            **{f"{name}{suffix}": value for name, values in (("mlm_accuracy", mlm),
                                                              ("pair_accuracy", pair))
               for suffix, value in zip(("", "_low", "_high"), values)}}


def test_held_out_accuracies_show_their_interval_over_documents(report):
    """With intervals, the summary gives `value [low, high]` and says over how many documents
    they resample; an arm recorded without one keeps its plain value."""
    bert, albert = report["arms"]
    bert["held_out_intervals"] = _intervals((0.13, 0.121, 0.139), (0.7, 0.64, 0.75))
    text = report_markdown(report)
    assert "| 5.000 | 0.130 [0.121, 0.139] | 0.700 [0.640, 0.750] |" in text
    assert "| 5.500 | 0.182 | 0.550 |" in text  # albert: no intervals recorded.
    assert ("a 95% percentile-bootstrap interval (1000 resamples) over the 37 held-out "
            "documents the 320 scored pairs come from") in text
    claims = {row["claim"]: row for row in report_lib.paper_claims(report)}
    assert "SOP accuracy 0.700 [0.640, 0.750] after 100 steps" in claims[
        "Table 5: SOP is learnable (bert)"]["measured"]

    bert["held_out_intervals"] = _intervals((0.13, 0.125, 0.135), (0.7, 0.66, 0.74), "pair")
    text = report_markdown(report)
    assert "over the 320 scored pairs, each on its own: these records carry no document ids" \
        in text


def test_no_intervals_no_interval_sentence(report):
    assert "percentile-bootstrap" not in report_markdown(report)


def test_two_downstream_seeds_are_too_few_for_a_verdict(report):
    for arm in report["arms"]:
        arm["downstream"] = _downstream([0.9, 0.8], [0.5, 0.5])  # Both seeds gain, by a lot.
    rows = {row["claim"]: row for row in report_lib.paper_claims(report)}
    row = rows["Pretraining helps downstream (bert)"]
    assert row["verdict"] == "cannot conclude" and "2/2 seeds > 0: cannot conclude" in row["measured"]
    answer = report_markdown(report).split("## The setup")[0]
    assert "pretraining cannot be judged on 2 seed(s)" in answer
