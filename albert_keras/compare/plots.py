"""PNG plots for an `albert-keras compare` report: loss curves, speed, memory, downstream scores.

`make_plots(report, directory)` draws each plot whose data the report holds, one colour per arm (by
arm order) across all plots, on `matplotlib.figure.Figure` objects: no pyplot state, no leaked
figures, no display needed.
"""

from __future__ import annotations

import io
import math
import numbers
import os
import sys

from albert_keras.utils import file_io

PLOT_NAMES = ("mlm_loss_vs_steps", "mlm_loss_vs_seconds", "pair_accuracy_vs_steps",
              "parameters_vs_downstream", "speed_and_memory", "pretrained_vs_random_init")
_SIZE = (6, 4)  # inches; at _DPI a PNG stays well under 100 KB.
_WIDE_SIZE = (10, 4)
_DPI = 100


def make_plots(report: dict, directory: str) -> dict[str, str]:
    """Writes one PNG per plot in `PLOT_NAMES` whose data `report` holds.

    A plot is left out only when its data is absent (no arm with downstream scores, no finite
    curve point); an empty figure is never written. None and NaN values are skipped point by point.

    Args:
        report: dict. A compare report: `pair_task`, `baseline`, `arms` (each with `name`,
            `parameters`, `tokens_per_second` (with `tokens_per_second_min` / `_max`, the
            speed rounds' range, when there), `peak_memory_mb`, `train_memory_mb`, `curve`,
            `downstream`) and optionally `views.equal_time.seconds`.
        directory: str. Where the PNGs go (created if missing), usually `runs/<name>/plots`;
            a URL (`gs://...`) too.

    Returns:
        `{plot name: path of its PNG relative to the parent of directory}`, e.g.
        `{"mlm_loss_vs_steps": "plots/mlm_loss_vs_steps.png", ...}`.

    Example:
    ```python
    # needs: a comparison's `report`
    files = make_plots(report, "runs/tiny/plots")
    files["mlm_loss_vs_steps"]  # "plots/mlm_loss_vs_steps.png"
    ```
    """
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # Switching under pyplot would close its figures.
        matplotlib.use("Agg")
    from matplotlib.figure import Figure

    arms = report.get("arms") or []
    if not arms:
        raise ValueError(f"`report['arms']` must list at least one arm. Received: arms={arms!r}")
    colors = [matplotlib.colormaps["tab10"](i % 10) for i in range(len(arms))]
    pair_task = str(report.get("pair_task", "pair")).upper()
    chance = (report.get("baseline") or {}).get("pair_chance")
    equal_seconds = ((report.get("views") or {}).get("equal_time") or {}).get("seconds")
    drawers = {
        "mlm_loss_vs_steps": lambda ax: _curves(ax, arms, colors, "step", "mlm_loss"),
        "mlm_loss_vs_seconds": lambda ax: _curves(ax, arms, colors, "seconds", "mlm_loss",
                                                  vline=(equal_seconds, "equal time")),
        "pair_accuracy_vs_steps": lambda ax: _curves(ax, arms, colors, "step", "pair_accuracy",
                                                     hline=(chance, "chance"), task=pair_task),
        "parameters_vs_downstream": lambda ax: _parameters_vs_downstream(ax, arms, colors),
        "speed_and_memory": lambda fig: _speed_and_memory(fig, arms, colors),
        "pretrained_vs_random_init": lambda ax: _pretrained_vs_random_init(ax, arms, colors),
    }
    file_io.makedirs(directory)
    paths = {}
    for name in PLOT_NAMES:
        fig = Figure(figsize=_WIDE_SIZE if name == "speed_and_memory" else _SIZE, dpi=_DPI)
        target = fig if name == "speed_and_memory" else fig.add_subplot()
        if not drawers[name](target):
            continue
        fig.tight_layout()
        png = io.BytesIO()  # Drawn in memory, then written: `directory` may be a URL.
        fig.savefig(png, format="png", dpi=_DPI)
        file_io.write_bytes(os.path.join(directory, name + ".png"), png.getvalue())
        paths[name] = os.path.join(os.path.basename(os.path.normpath(directory)), name + ".png")
    return paths


def _finite(value) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def _points(rows: list, x_key: str, y_key: str) -> tuple[list, list]:
    """Returns `(xs, ys)` of the rows whose `x_key` and `y_key` values are both finite numbers."""
    pairs = [(row.get(x_key), row.get(y_key)) for row in rows or []]
    pairs = [(x, y) for x, y in pairs if _finite(x) and _finite(y)]
    return [x for x, _ in pairs], [y for _, y in pairs]


def _format_count(value: float, _position=None) -> str:
    """`1234567` -> `"1.2M"`."""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _curves(ax, arms, colors, x_key, y_key, vline=(None, ""), hline=(None, ""), task=""):
    drawn = False
    for arm, color in zip(arms, colors):
        xs, ys = _points(arm.get("curve"), x_key, y_key)
        if xs:
            ax.plot(xs, ys, marker="o", markersize=4, color=color, label=arm["name"])
            drawn = True
    if not drawn:
        return False
    if _finite(vline[0]):
        ax.axvline(vline[0], color="gray", linestyle="--", linewidth=1, label=vline[1])
    if _finite(hline[0]):
        ax.axhline(hline[0], color="gray", linestyle=":", linewidth=1, label=hline[1])
    x_label = {"step": "optimizer steps", "seconds": "training seconds"}[x_key]
    y_label = {"mlm_loss": "held-out MLM loss", "pair_accuracy": f"held-out {task} accuracy"}[y_key]
    ax.set(xlabel=x_label, ylabel=y_label, title=f"{y_label} vs {x_label}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return True


def _scores(arm) -> tuple[float, float, float, float] | None:
    """`(pretrained mean, std, random-init mean, std)`, NaN where absent, or None."""
    downstream = arm.get("downstream")
    if not downstream:
        return None
    out = []
    for key in ("pretrained", "random_init"):
        part = downstream.get(key) or {}
        out += [part.get(stat) if _finite(part.get(stat)) else math.nan for stat in ("mean", "std")]
    return None if math.isnan(out[0]) and math.isnan(out[2]) else tuple(out)


def _metric(arms) -> str:
    return next((arm["downstream"].get("metric", "score") for arm in arms if arm.get("downstream")),
                "score")


def _parameters_vs_downstream(ax, arms, colors):
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator

    counts = []
    for arm, color in zip(arms, colors):
        scores, count = _scores(arm), (arm.get("parameters") or {}).get("encoder")
        if scores is None or not _finite(count) or count <= 0:
            continue
        for mean, std, face in ((scores[0], scores[1], color), (scores[2], scores[3], "none")):
            if not math.isnan(mean):
                ax.errorbar(count, mean, yerr=None if math.isnan(std) else std, fmt="o",
                            color=color, markerfacecolor=face, markersize=8, capsize=3)
        label_y = scores[0] if not math.isnan(scores[0]) else scores[2]
        ax.annotate(arm["name"], (count, label_y), xytext=(6, 6), textcoords="offset points",
                    fontsize="small", color=color)
        counts.append(count)
    if not counts:
        return False
    low, high = min(counts) / 1.5, max(counts) * 1.5
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.xaxis.set_major_formatter(FuncFormatter(_format_count))
    if high / low < 20:  # Under ~a decade there is at most one major tick: label 2x and 5x too.
        ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        ax.xaxis.set_minor_formatter(FuncFormatter(_format_count))
    handles = [Line2D([], [], marker="o", linestyle="", color="black", label="pretrained"),
               Line2D([], [], marker="o", linestyle="", color="black", markerfacecolor="none",
                      label="random init")]
    ax.legend(handles=handles, fontsize="small")
    ax.set(xlabel="encoder parameters", ylabel=f"downstream {_metric(arms)} (mean ± std)",
           title="encoder size vs downstream score")
    ax.grid(alpha=0.3)
    return True


def _speed_and_memory(fig, arms, colors):
    from matplotlib.patches import Patch

    def values(key):  # 0 where not measured.
        return [arm.get(key) if _finite(arm.get(key)) else 0.0 for arm in arms]

    if not any(values("tokens_per_second") + values("peak_memory_mb") + values("train_memory_mb")):
        return False
    positions = range(len(arms))
    rounds = [arm for arm in arms if _finite(arm.get("tokens_per_second_min"))]
    speed_title = "training speed" + (" (median, min-max of rounds)" if rounds else "")
    for ax, key, title, ylabel in zip(fig.subplots(1, 2), ("tokens_per_second", "peak_memory_mb"),
                                      (speed_title, "training memory"),
                                      ("tokens / second", "memory (MB)")):
        ax.bar(positions, values(key), color=colors)
        if key == "tokens_per_second" and rounds:  # The speed rounds' range.
            ax.errorbar([i for i, arm in enumerate(arms) if arm in rounds],
                        [arm["tokens_per_second"] for arm in rounds],
                        yerr=[[arm["tokens_per_second"] - arm["tokens_per_second_min"]
                               for arm in rounds],
                              [arm["tokens_per_second_max"] - arm["tokens_per_second"]
                               for arm in rounds]],
                        fmt="none", ecolor="black", capsize=4)
        ax.set_xticks(positions, [arm["name"] for arm in arms], rotation=20)
        ax.set(title=title, ylabel=ylabel)
        ax.grid(axis="y", alpha=0.3)
    handles = [Patch(color="gray", label="peak memory")]
    if any(values("train_memory_mb")):  # A narrower hatched bar inside each peak bar.
        ax.bar(positions, values("train_memory_mb"), width=0.4, color="white", edgecolor="black",
               hatch="//", alpha=0.7)
        handles.append(Patch(facecolor="white", edgecolor="black", hatch="//",
                             label="train memory"))
    ax.legend(handles=handles, fontsize="small")
    return True


def _pretrained_vs_random_init(ax, arms, colors):
    from matplotlib.patches import Patch

    rows = [(arm["name"], color, _scores(arm)) for arm, color in zip(arms, colors)]
    rows = [row for row in rows if row[2] is not None]
    if not rows:
        return False
    width = 0.38
    for i, (_, color, (pre, pre_std, rand, rand_std)) in enumerate(rows):
        for offset, mean, std, style in ((-width / 2, pre, pre_std, {"color": color}),
                                         (width / 2, rand, rand_std,
                                          {"color": "white", "edgecolor": color, "hatch": "//"})):
            if not math.isnan(mean):
                ax.bar(i + offset, mean, width, yerr=None if math.isnan(std) else std,
                       capsize=3, **style)
    ax.legend(handles=[Patch(color="gray", label="pretrained"),
                       Patch(facecolor="white", edgecolor="gray", hatch="//",
                             label="random init")], fontsize="small")
    ax.set_xticks(range(len(rows)), [name for name, _, _ in rows])
    ax.set(ylabel=f"downstream {_metric(arms)} (mean ± std)",
           title="pretrained vs random init")
    ax.grid(axis="y", alpha=0.3)
    return True
