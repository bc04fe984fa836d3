"""The one benchmark harness: alternated rounds, median and min-max, per-round ratios, a verdict.

Every script under `benchmarks/` measures through this module and writes its result as one JSON
file (schema below). Nothing here keeps the best of N runs: each figure is the list of its rounds,
summarised as median, min and max, and each ratio between two contenders is taken within a round
(both measured minutes apart, under the same load), then summarised the same way.

Rounds alternate the contenders' order, A B | B A | A B ..., so drift in the machine's load (the
usual case on a shared machine) hits each contender early and late alike.

Verdict rule (`VERDICT_RULE`, also written into every JSON): for a comparison "A against B" the
per-round speed ratio is A's speed over B's (a throughput A/B; a time or latency B/A). "faster"
when every round's speed ratio is above 1 + tolerance; "slower" when every one is below
1 - tolerance; otherwise, or with fewer than `MIN_ROUNDS` rounds, "cannot conclude" (the rounds
disagree, or there are too few to tell). The median is reported, never used alone for a verdict.

Scores over seeds (accuracy of a pretrained encoder against its random-init twin, of a recipe
variant against its reference) are not speed: their figures' values are the seeds (`over`
says so), and each paired difference is recorded with `add_gain`, whose verdict is the
downstream protocol's (`GAIN_RULE`: "gain", "loss", "no difference", or "cannot conclude" with
fewer than 3 seeds).

Every result carries a machine fingerprint: CPU model and flags, cores, load average before and
after, Python/TensorFlow/Keras/keras-hub versions, the devices TensorFlow sees, and the float32 and
bfloat16 dense-matmul limits measured in the same run (a short fixed-size matmul loop). Each
figure names its precision and device.

Example:
```python
# needs: time_ours and time_hub, functions returning one round's p50 in ms
result = BenchmarkResult("serving_latency", settings={"batch_size": 1})
times = run_rounds({"ours": time_ours, "keras_hub": time_hub}, rounds=3)  # A B | B A | A B
result.add_figure("ours p50", times["ours"], unit="ms", better="lower", precision="float32")
result.add_figure("keras_hub p50", times["keras_hub"], unit="ms", better="lower")
result.add_comparison("ours vs keras_hub p50", "ours p50", "keras_hub p50")
result.write("benchmarks/out/serving_latency.json")
```
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import os
import platform
import sys
import time
from typing import Any, Callable, Mapping, Sequence

# The rounds rule has one definition, in the package; re-exported here for the scripts.
from albert_keras.jobs.downstream_protocol import GAIN_RULE, paired_gain
from albert_keras.jobs.downstream_protocol import VERDICTS as GAIN_VERDICTS
from albert_keras.utils.atomic_files import write_json_atomic
from albert_keras.utils.rounds import (  # noqa: F401
    BETTER, MIN_ROUNDS, VERDICT_RULE, VERDICTS, alternated_order, run_rounds, speed_ratios,
    summarize, verdict)

SCHEMA = "albert_keras.benchmark/1"
# The repository root: commands are recorded relative to it (no paths of the machine that ran).
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# CPU flags that bear on matmul speed and precision (the full list is long and mostly noise).
_FLAG_PREFIXES = ("avx", "amx", "fma", "f16c", "sse4", "neon", "asimd", "sve")
REQUIRED_KEYS = ("schema", "benchmark", "command", "started", "finished", "wall_seconds",
                 "rounds", "settings", "verdict_rule", "fingerprint", "figures", "comparisons",
                 "notes", "skipped")
FIGURE_KEYS = ("unit", "better", "precision", "device", "rounds", "median", "min", "max")
COMPARISON_KEYS = ("a", "b", "ratio", "speed_ratio_rounds", "median", "min", "max", "tolerance",
                   "verdict")
# Optional in a document: `gains` (scores over seeds, `add_gain`) and `details` (a script's own
# summary, kept beside the figures).
GAIN_KEYS = ("unit", "over", "precision", "device", "values", "median", "min", "max",
             "positive_seeds", "negative_seeds", "verdict", "rule")
FINGERPRINT_KEYS = ("cpu_model", "cpu_flags", "cpu_count", "cpu_affinity", "load_average_before",
                    "load_average_after", "python", "versions", "devices", "platform",
                    "matmul_limits")


def fetch_data() -> str:
    """The folder `../shared/data/fetch.sh` fetched its real data into (fetching what is
    missing). Raises `subprocess.CalledProcessError` or `TimeoutExpired` when it cannot."""
    import subprocess

    script = os.path.join(REPO, "..", "shared", "data", "fetch.sh")
    result = subprocess.run(["bash", script], capture_output=True, text=True, check=True,
                            timeout=900, env={**os.environ, "PYTHON": sys.executable})
    return result.stdout.strip().splitlines()[-1]


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (empty where the system has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def cpu_description(path: str = "/proc/cpuinfo") -> tuple[str, list[str]]:
    """(CPU model name, its matmul-relevant feature flags) as Linux lists them."""
    model, flags = platform.processor() or platform.machine(), []
    if os.path.isfile(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                name, _, value = line.partition(":")
                name = name.strip()
                if name in ("model name", "Model", "cpu model") and value.strip():
                    model = value.strip()
                elif name in ("flags", "Features") and not flags:
                    flags = sorted(f for f in value.split() if f.startswith(_FLAG_PREFIXES))
    return model, flags


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries a benchmark's figures depend on."""
    versions = {}
    for name in ("tensorflow", "keras", "keras-hub", "tensorflow-text", "numpy"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def default_device() -> str:
    """Where TensorFlow places ops by default: "GPU:0 (name)", "TPU" or "CPU"."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "")
        return f"GPU:0 ({name})" if name else "GPU:0"
    if tf.config.list_physical_devices("TPU"):
        return "TPU"
    return "CPU"


def matmul_limits(size: tuple[int, int, int] | None = None, iterations: int = 5,
                  rounds: int = MIN_ROUNDS) -> dict[str, dict]:
    """float32 and bfloat16 dense-matmul FLOP/s, a short fixed-size loop, alternated rounds.

    The machine's practical ceiling for the figures beside it (MFU on an accelerator). Each
    round times `iterations` matmuls of `size` (m, k, n) per precision; FLOP/s is 2mkn per
    matmul, summarised as median and min-max over rounds.

    Args:
        size: tuple of 3 int, or None. (m, k, n); None: (1024, 768, 3072) on a CPU (a BERT-base
            FFN at 8 x 128 tokens), (8192, 8192, 8192) on an accelerator.
        iterations: int. Matmuls per round. Defaults to 5.
        rounds: int. Rounds, alternating float32 and bfloat16. Defaults to `MIN_ROUNDS`.
    """
    import tensorflow as tf

    device = default_device()
    m, k, n = size or ((1024, 768, 3072) if device == "CPU" else (8192, 8192, 8192))
    operands = {}
    for dtype in ("float32", "bfloat16"):
        a = tf.cast(tf.random.stateless_normal((m, k), seed=(0, 1)), dtype)
        b = tf.cast(tf.random.stateless_normal((k, n), seed=(0, 2)), dtype)
        operands[dtype] = (a, b)
    matmul = tf.function(lambda x, y: tf.reduce_sum(tf.cast(tf.matmul(x, y), tf.float32)))

    def measure(dtype: str) -> Callable[[], float]:
        def timed() -> float:
            a, b = operands[dtype]
            start = time.perf_counter()
            for _ in range(iterations):
                result = matmul(a, b)
            result.numpy()
            return 2.0 * m * k * n * iterations / (time.perf_counter() - start)
        return timed

    for dtype in operands:  # Trace and warm up, untimed.
        measure(dtype)()
    measured = run_rounds({dtype: measure(dtype) for dtype in operands}, rounds)
    return {dtype: {"shape": [m, k, n], "iterations": iterations, "device": device,
                    "unit": "FLOP/s", **summarize(values)} for dtype, values in measured.items()}


def fingerprint(load_before: list[float] | None = None, matmul: bool = True,
                limits: dict | None = None) -> dict[str, Any]:
    """The machine as it was during a run (`FINGERPRINT_KEYS`); call at the end of the run.

    Args:
        load_before: list of float, or None. The load average taken before the run; None takes
            it now.
        matmul: bool. Measure the float32/bfloat16 matmul limits (a few seconds on a CPU); when
            False they are recorded as null. Defaults to True.
        limits: dict, or None. Limits this run already measured with `matmul_limits()`.
    """
    model, flags = cpu_description()
    try:
        import tensorflow as tf

        devices = [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()]
    except ImportError:
        devices = []
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    if limits is None and matmul:
        limits = matmul_limits()
    return {"cpu_model": model, "cpu_flags": flags, "cpu_count": os.cpu_count(),
            "cpu_affinity": affinity,
            "load_average_before": load_before if load_before is not None else load_average(),
            "load_average_after": load_average(), "python": platform.python_version(),
            "versions": library_versions(), "devices": devices, "platform": platform.platform(),
            "matmul_limits": limits}


@dataclasses.dataclass(frozen=True)
class RunStart:
    """When a measurement began, by the wall clock and the monotonic one, and the load average
    then (`run_start()`). A script that puts its document together only at the end of its work
    (or after each of its runs) takes one first and gives it to `BenchmarkResult`, so that the
    document's `started`, `wall_seconds` and `load_average_before` are the work's."""

    started: str
    clock: float
    load: list[float]


def run_start() -> RunStart:
    """The start of a measurement, now (`RunStart`)."""
    return RunStart(started=_now(), clock=time.perf_counter(), load=load_average())


class BenchmarkResult:
    """One benchmark run's figures, comparisons and fingerprint, written as one JSON file.

    Created at the start of a run (it notes the time and the load average then), or later with
    the `RunStart` taken then; figures and comparisons are added as they are measured; `write()`
    takes the fingerprint (load average after, matmul limits) and writes the JSON that
    `benchmarks/run_all.py` makes tables from.

    Args:
        benchmark: str. The benchmark's name (its script's name).
        settings: mapping, or None. The settings the figures depend on. Defaults to None.
        rounds: int. Rounds each figure was measured in. Defaults to `MIN_ROUNDS`.
        start: `RunStart` or None. When the measurement began; None: now. Defaults to None.

    Example:
    ```python
    result = BenchmarkResult("demo", settings={"size": 4}, rounds=3)
    result.add_figure("a seconds", [1.0, 1.1, 0.9], unit="s", better="lower", device="CPU")
    result.add_figure("b seconds", [2.0, 2.1, 1.9], unit="s", better="lower", device="CPU")
    result.add_comparison("a vs b", "a seconds", "b seconds")["verdict"]  # "faster"
    ```
    """

    def __init__(self, benchmark: str, settings: Mapping[str, Any] | None = None,
                 rounds: int = MIN_ROUNDS, start: RunStart | None = None):
        self.benchmark = benchmark
        self.settings = dict(settings or {})
        self.rounds = rounds
        self.figures: dict[str, dict] = {}
        self.comparisons: dict[str, dict] = {}
        self.gains: dict[str, dict] = {}
        self.details: dict[str, Any] | None = None
        self.notes: list[str] = []
        self.skipped: str | None = None
        # Set by a benchmark that measured them itself (for MFU), so they are not measured twice.
        self.matmul_limits: dict | None = None
        start = start or run_start()
        self.started = start.started
        self._start = start.clock
        self.load_before = list(start.load)

    def add_figure(self, name: str, values: Sequence[float], unit: str, better: str = "higher",
                   precision: str = "float32", device: str | None = None,
                   **extra: Any) -> dict:
        """Records a figure's rounds (one value per round) with its precision and device."""
        if better not in BETTER:
            raise ValueError(f"`better` must be one of {BETTER}. Received: better={better!r}")
        figure = {"unit": unit, "better": better, "precision": precision,
                  "device": device or default_device(), **summarize(values), **extra}
        self.figures[name] = figure
        return figure

    def add_comparison(self, name: str, a: str, b: str, tolerance: float = 0.0,
                       **extra: Any) -> dict:
        """Compares figure `a` against figure `b` round by round, with `verdict()`'s rule."""
        first, second = self.figures[a], self.figures[b]
        if first["better"] != second["better"]:
            raise ValueError(f"Figures {a!r} and {b!r} disagree on which way is better.")
        ratios = speed_ratios(first["rounds"], second["rounds"], first["better"])
        summary = summarize(ratios)
        comparison = {"a": a, "b": b, "ratio": "speed of a / speed of b",
                      "speed_ratio_rounds": summary["rounds"], "median": summary["median"],
                      "min": summary["min"], "max": summary["max"], "tolerance": tolerance,
                      "verdict": verdict(ratios, tolerance), **extra}
        self.comparisons[name] = comparison
        return comparison

    def add_gain(self, name: str, values: Sequence[float], unit: str, over: str,
                 precision: str = "float32", device: str | None = None, **extra: Any) -> dict:
        """Records a paired gain over seeds (one difference per seed, e.g. pretrained - its
        random-init twin) with the downstream protocol's verdict (`GAIN_RULE`).

        Scores over seeds are not speed: their spread is the seeds', and their verdict is
        "gain", "loss", "no difference" or "cannot conclude" (fewer than 3 seeds).

        Args:
            name: str. The gain's name in the tables.
            values: sequence of float. One difference per seed.
            unit: str. What is compared (e.g. "test accuracy").
            over: str. What the values run over (e.g. "pretraining seeds").
            precision: str. The precision the scores were trained in. Defaults to "float32".
            device: str, or None. None: this machine's default device.
        """
        gain = {"unit": unit, "over": over, "precision": precision,
                "device": device or default_device(),
                **paired_gain(values, [0.0] * len(values)), "rule": GAIN_RULE, **extra}
        self.gains[name] = gain
        return gain

    def note(self, text: str) -> None:
        """A sentence the reader needs to read the figures right (a caveat, a residual)."""
        self.notes.append(text)

    def skip(self, reason: str) -> None:
        """Marks the benchmark as not run, with the reason (missing data, no reference)."""
        self.skipped = reason

    def to_dict(self, matmul: bool = True) -> dict[str, Any]:
        """The JSON document (`REQUIRED_KEYS`), fingerprint taken now."""
        return {"schema": SCHEMA, "benchmark": self.benchmark, "command": repo_relative(sys.argv),
                "started": self.started, "finished": _now(),
                "wall_seconds": round(time.perf_counter() - self._start, 2),
                "rounds": self.rounds, "settings": self.settings, "verdict_rule": VERDICT_RULE,
                "fingerprint": fingerprint(self.load_before,
                                           matmul=matmul and self.skipped is None,
                                           limits=self.matmul_limits),
                "figures": self.figures, "comparisons": self.comparisons,
                **({"gains": self.gains} if self.gains else {}),
                **({"details": self.details} if self.details is not None else {}),
                "notes": self.notes, "skipped": self.skipped}

    def print_summary(self, comparisons: bool = True) -> None:
        """Prints each figure and (with `comparisons`) each comparison: median (min-max)."""
        for name, figure in self.figures.items():
            print(f"  {name}: {figure['median']:,.4g} ({figure['min']:,.4g}-"
                  f"{figure['max']:,.4g}) {figure['unit']}")
        for name, comparison in self.comparisons.items() if comparisons else ():
            print(f"  {name}: speed ratio {comparison['median']:.3f} ({comparison['min']:.3f}-"
                  f"{comparison['max']:.3f}): {comparison['verdict']}")
        for name, gain in self.gains.items():
            print(f"  {name}: {gain['median']:+.4g} ({gain['min']:+.4g} to {gain['max']:+.4g}), "
                  f"{gain['positive_seeds']}/{len(gain['values'])} {gain['over']} > 0: "
                  f"{gain['verdict']}")

    def write(self, path: str, matmul: bool = True) -> dict[str, Any]:
        """Writes the JSON document to `path` (folders made) and returns it."""
        document = self.to_dict(matmul=matmul)
        check_result(document)
        # Atomically: the committed results (`benchmarks/out/full/`) stay whole if a run dies.
        write_json_atomic(path, document)
        return document


def check_result(document: Mapping[str, Any]) -> None:
    """Raises ValueError naming the first thing a result document lacks or gets wrong."""
    missing = [key for key in REQUIRED_KEYS if key not in document]
    if missing:
        raise ValueError(f"Result lacks keys {missing}. Received keys: {sorted(document)}")
    if document["schema"] != SCHEMA:
        raise ValueError(f"`schema` must be {SCHEMA!r}. Received: {document['schema']!r}")
    missing = [key for key in FINGERPRINT_KEYS if key not in document["fingerprint"]]
    if missing:
        raise ValueError(f"Fingerprint lacks keys {missing}.")
    # `figures` and `comparisons` are required (above); `gains` is optional.
    for section, kind, keys, verdicts in (
            ("figures", "Figure", FIGURE_KEYS, None),
            ("comparisons", "Comparison", COMPARISON_KEYS, VERDICTS),
            ("gains", "Gain", GAIN_KEYS, GAIN_VERDICTS)):
        for name, entry in document.get(section, {}).items():
            missing = [key for key in keys if key not in entry]
            if missing:
                raise ValueError(f"{kind} {name!r} lacks keys {missing}.")
            if verdicts and entry["verdict"] not in verdicts:
                raise ValueError(f"{kind} {name!r}: `verdict` must be one of {verdicts}. "
                                 f"Received: {entry['verdict']!r}")


def document_name(out: str) -> str:
    """The benchmark name of a document written to `out`: its file name without `.json`, so
    each `run_all` entry (one script may serve several) names its own document."""
    return os.path.splitext(os.path.basename(out))[0]


def repo_relative(command: Sequence[str]) -> list[str]:
    """`command` as run from the repository root: each absolute path inside the repository, or
    beside it (`../albert-reference`), written relative to the root; other parts as they are."""
    parent = os.path.dirname(REPO)

    def relative(part: str) -> str:
        if not os.path.isabs(part):
            return part
        path = os.path.normpath(part)
        if path == REPO or path.startswith(REPO + os.sep) or path.startswith(parent + os.sep):
            return os.path.relpath(path, REPO)
        return part
    return [relative(part) for part in command]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
