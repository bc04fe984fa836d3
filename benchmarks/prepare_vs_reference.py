"""`prepare --static-masking` against google-research/albert's `create_pretraining_data.py`.

Both tools, one run, the same corpus (42 Shakespeare plays from `../shared/data/fetch.sh`,
BERT format) and the same SentencePiece model, at ALBERT's settings: sequence 128, SOP, static
n-gram masking (n <= 3, 15%, 20 predictions), short_seq_prob 0.1, dupe_factor 1, seed 12345.

    git clone https://github.com/google-research/albert ../albert-reference   # not vendored
    .venv/bin/python benchmarks/prepare_vs_reference.py --reference ../albert-reference
    .venv/bin/python benchmarks/prepare_vs_reference.py --reference ../albert-reference --quick

Each tool runs as its own process, timed from the shell's point of view (wall clock including
the interpreter start and the TensorFlow import) and inside the tool (from its first log line
to its last for the reference; `manifest.json`'s `seconds` for ours). Ours runs with the
default worker choice and with explicit `data.num_workers` values. Measured through
`benchmarks.harness`: `--rounds` alternated rounds (reference, ours... | ...ours, reference),
each figure the median and min-max of its rounds, each speed-up (sequences/s ours / reference)
taken within a round, then summarised with the harness' verdict; one more run of ours times each
stage. `--quick` runs two plays; `--copies 10` the 42 plays ten times over (50 MB, where the
start-up of either tool no longer dominates). Writes `benchmarks/out/prepare_vs_reference.json` (the
harness' schema) and prints the table.

The tokenizer: a 1,000-piece unigram SentencePiece model trained on the corpus with ALBERT's
special pieces (`<pad>`, `<unk>`, `[CLS]`, `[SEP]`, `[MASK]`) by `albert_keras`' trainer,
trained once (not timed) and cached beside the data; both tools load that `.model` file.
`--spm-model` takes another one that has those pieces (sentencepiece's own
`botchan_en_unigram_1000.model` lacks them: the reference would silently map `[CLS]`/`[SEP]`
to `<unk>`, and ours refuses it).

Running the reference under TensorFlow 2.21: it imports `tensorflow.compat.v1` (which still
has `flags`, `app.run`, `gfile`, `logging` and `python_io`), `from albert import tokenization`
and `tensorflow_hub`. Nothing in it is edited: a temporary folder on its PYTHONPATH holds an
`albert` package whose `__path__` is the reference folder, and, when `tensorflow_hub` is not
installed, a stub module (it is only used to read a TF-Hub module's vocabulary, not here).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
SETTINGS = {"max_sequence_length": 128, "dupe_factor": 1, "max_predictions": 20,
            "mask_rate": 0.15, "max_ngram": 3, "short_seq_prob": 0.1, "seed": 12345}
_LOG_TIME = re.compile(r"^[IWEF]\d{4} (\d\d):(\d\d):(\d\d\.\d+) ")


def corpus_tokenizer(data_dir: str, corpus: str) -> str:
    """The cached 1,000-piece model trained on the corpus (trained here the first time)."""
    directory = os.path.join(data_dir, "spm", "shakespeare_albert_unigram_1000")
    if not os.path.isfile(os.path.join(directory, "spiece.model")):
        from albert_keras.pretraining_data.corpus import read_documents
        from albert_keras.tokenizers.tokenizer_files import save_tokenizer
        from albert_keras.tokenizers.tokenizer_training import train_tokenizer

        print("training the 1,000-piece SentencePiece model (once, not timed)", file=sys.stderr)
        sentences = [s for d in read_documents(corpus) for s in d]
        save_tokenizer(train_tokenizer(sentences, "sentencepiece", 1000), directory + ".tmp")
        os.replace(directory + ".tmp", directory)
    return os.path.join(directory, "spiece.model")


def copy_corpus(corpus: str, directory: str, copies: int) -> str:
    """Writes every file of `corpus` (comma-separated globs) `copies` times into `directory`,
    each copy under its own file name (the same documents again: a throughput test, the work
    per document is what it was); returns the glob of the copies."""
    os.makedirs(directory, exist_ok=True)
    files = sorted(p for pattern in corpus.split(",") for p in glob.glob(pattern))
    if not files:
        raise FileNotFoundError(f"No corpus file matches {corpus!r}")
    for copy in range(copies):
        for path in files:
            shutil.copyfile(path, os.path.join(directory, f"{copy:03d}_{os.path.basename(path)}"))
    return os.path.join(directory, "*")


def run_timed(command: list[str], log_path: str, env: dict | None = None) -> dict:
    """Runs a command with its output in a file: wall seconds and the child's CPU seconds."""
    with open(log_path, "w", encoding="utf-8") as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f"{command[:3]} failed ({process.returncode}):\n{tail}")
    return {"wall_seconds": round(wall, 2), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2)}


def run_reference(reference: str, corpus: str, spm_model: str, work: str,
                  settings: dict | None = None) -> dict:
    """Runs the reference script on `corpus` into `{work}/reference.tfrecord` (at `SETTINGS`,
    or `settings`); returns its times and counts."""
    settings = settings or SETTINGS
    script = os.path.join(reference, "create_pretraining_data.py")
    if not os.path.isfile(script) or not os.path.isfile(os.path.join(reference, "tokenization.py")):
        raise FileNotFoundError(f"--reference must hold create_pretraining_data.py and "
                                f"tokenization.py (git clone https://github.com/google-research/"
                                f"albert). Received: {reference!r}")
    shim = os.path.join(work, "shim")
    os.makedirs(os.path.join(shim, "albert"), exist_ok=True)
    with open(os.path.join(shim, "albert", "__init__.py"), "w", encoding="utf-8") as f:
        f.write(f"__path__ = [{os.path.abspath(reference)!r}]  # `from albert import ...`\n")
    try:
        import importlib.util
        needs_hub_stub = importlib.util.find_spec("tensorflow_hub") is None
    except ValueError:
        needs_hub_stub = True
    if needs_hub_stub:
        with open(os.path.join(shim, "tensorflow_hub.py"), "w", encoding="utf-8") as f:
            f.write('"""Stub: the reference imports it at the top, uses it only for TF-Hub."""\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [shim, *filter(None, [os.environ.get("PYTHONPATH")])])}
    log_path = os.path.join(work, "reference.log")
    command = [sys.executable, script, f"--input_file={corpus}",
               f"--output_file={os.path.join(work, 'reference.tfrecord')}",
               f"--spm_model_file={spm_model}", f"--vocab_file={spm_model}",
               f"--max_seq_length={settings['max_sequence_length']}",
               f"--dupe_factor={settings['dupe_factor']}",
               f"--max_predictions_per_seq={settings['max_predictions']}",
               f"--masked_lm_prob={settings['mask_rate']}", f"--ngram={settings['max_ngram']}",
               f"--short_seq_prob={settings['short_seq_prob']}",
               f"--random_seed={settings['seed']}"]
    result = run_timed(command, log_path, env)
    with open(log_path, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    marks = {}
    for line in lines:
        match = _LOG_TIME.match(line)
        if not match:
            continue
        seconds = int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3])
        for key, text in (("start", "*** Reading from input files ***"),
                          ("instances", "number of instances:"),
                          ("end", "total instances")):
            if text in line:
                marks.setdefault(key, seconds)
                if key == "end":
                    result["sequences"] = int(re.search(r"Wrote (\d+) total", line)[1])
    if {"start", "instances", "end"} <= set(marks):
        result["in_tool_seconds"] = round((marks["end"] - marks["start"]) % 86400, 2)
        result["stages"] = {"read, tokenize, pairs, masks": round(
            (marks["instances"] - marks["start"]) % 86400, 2),
            "write": round((marks["end"] - marks["instances"]) % 86400, 2)}
    result["shim"] = ["albert package -> reference folder"] + (
        ["tensorflow_hub stub"] if needs_hub_stub else [])
    return result


def our_overrides(corpus: str, spm_model: str, output_dir: str,
                  num_workers: int | None = None) -> list[str]:
    """`--set` overrides of `pipelines/albert_tiny.yaml` for our `prepare`: the reference's
    settings, one record set (no phases), nothing held out."""
    overrides = {"data.corpus": corpus, "data.tokenizer_path": spm_model,
                 "data.output_dir": output_dir, "data.num_shards": 1,
                 "data.num_workers": "null" if num_workers is None else num_workers,
                 "data.masking": "ngram", "data.pair_task": "sop", "train.phases": "[]",
                 # The pipeline file holds 5% of the documents out (written apart, not counted
                 # in the manifest's sequences); the reference holds nothing out.
                 "data.held_out_fraction": 0.0, **{f"data.{k}": v for k, v in SETTINGS.items()}}
    return [f"{key}={value}" for key, value in overrides.items()]


def run_ours(corpus: str, spm_model: str, work: str, num_workers: int | None) -> dict:
    label = "auto" if num_workers is None else str(num_workers)
    output_dir = os.path.join(work, f"ours_{label}")
    executable = os.path.join(os.path.dirname(sys.executable), "albert-keras")
    command = [executable if os.path.isfile(executable) else sys.executable]
    if command[0] == sys.executable:
        command += ["-m", "albert_keras.cli"]
    command += ["prepare", "--config", os.path.join(REPO, "pipelines", "albert_tiny.yaml"),
                "--static-masking"]
    for override in our_overrides(corpus, spm_model, output_dir, num_workers):
        command += ["--set", override]
    result = run_timed(command, os.path.join(work, f"ours_{label}.log"),
                       {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    with open(os.path.join(output_dir, "albert_tiny", "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    result.update(num_workers=label, sequences=manifest["sequences"],
                  in_tool_seconds=manifest["seconds"], tokens=manifest["tokens"])
    shutil.rmtree(output_dir, ignore_errors=True)
    return result


_STAGES = {"_read_documents": "read", "make_tokenizer": "load tokenizer",
           "_tokenize_documents": "tokenize", "_pairs": "pairs", "static_masks": "static masks"}


def stage_profile(corpus: str, spm_model: str, output_dir: str) -> dict:
    """In this process (`--stages`): TensorFlow import and each stage of `prepare`, seconds."""
    start = time.perf_counter()
    import tensorflow as tf  # noqa: F401

    times = {"import tensorflow": time.perf_counter() - start}
    import importlib

    # The local runner's stages (`prepare` with data.runner=local), timed where it calls them.
    runner = importlib.import_module("albert_keras.pretraining_data.runners.local_runner")
    writer = importlib.import_module("albert_keras.pretraining_data.records.writer")
    from albert_keras.pipeline import load_pipeline

    def timed(module, name, label):
        function = getattr(module, name)

        def wrapper(*args, **kwargs):
            begin = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                times[label] = times.get(label, 0.0) + time.perf_counter() - begin
        setattr(module, name, wrapper)

    for name, label in _STAGES.items():
        timed(runner, name, label)
    timed(writer, "write_shards", "write shards")
    config = load_pipeline(os.path.join(REPO, "pipelines", "albert_tiny.yaml"),
                           our_overrides(corpus, spm_model, output_dir))
    begin = time.perf_counter()
    runner.prepare_locally(config, static_masking=True, progress=False)
    total = time.perf_counter() - begin
    times["other (tokenizer save, manifest)"] = total - sum(
        v for k, v in times.items() if k != "import tensorflow")
    times["prepare total"] = total
    return {k: round(v, 2) for k, v in times.items()}


def import_seconds() -> dict:
    """Wall seconds of a bare interpreter and of the imports each tool starts with."""
    times = {}
    for label, code in (("python", "pass"), ("import tensorflow", "import tensorflow"),
                        ("import tensorflow + keras_hub + tensorflow_text (ours)",
                         "import tensorflow, keras_hub, tensorflow_text")):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        times[label] = round(time.perf_counter() - start, 2)
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", help="folder with create_pretraining_data.py and "
                        "tokenization.py from google-research/albert")
    parser.add_argument("--spm-model", help="SentencePiece .model with ALBERT's special pieces "
                        "(default: a 1,000-piece model trained on the corpus, cached)")
    parser.add_argument("--workers", default="auto,2",
                        help="our data.num_workers values, comma-separated (auto = null)")
    parser.add_argument("--rounds", "--repeats", dest="rounds", type=int, default=3,
                        help="alternated rounds: one run of each tool per round")
    parser.add_argument("--quick", action="store_true", help="two plays instead of 42")
    parser.add_argument("--copies", type=int, default=1,
                        help="the corpus this many times over, each copy its own files (e.g. "
                        "10: the 42 plays make 50 MB, where start-up no longer dominates)")
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "out",
                                                      "prepare_vs_reference.json"))
    parser.add_argument("--stages", nargs=3, metavar=("CORPUS", "MODEL", "OUTPUT_DIR"),
                        help=argparse.SUPPRESS)  # The stage-profile subprocess.
    args = parser.parse_args(argv)
    if args.stages:
        print(json.dumps(stage_profile(*args.stages)))
        return 0
    if not args.reference:
        parser.error("--reference is required (git clone https://github.com/google-research/albert)")
    from benchmarks.harness import BenchmarkResult, fetch_data, run_rounds

    data_dir = fetch_data()
    plays = os.path.join(data_dir, "corpus", "shakespeare")
    corpus = (",".join(os.path.join(plays, p) for p in ("hamlet*.txt", "macbeth*.txt"))
              if args.quick else os.path.join(plays, "*.txt"))
    if args.copies < 1:
        parser.error(f"--copies must be at least 1. Received: {args.copies}")
    spm_model = args.spm_model or corpus_tokenizer(data_dir, os.path.join(plays, "*.txt"))
    work = tempfile.mkdtemp(prefix="prepare_vs_reference_")
    if args.copies > 1:
        corpus = copy_corpus(corpus, os.path.join(work, "corpus"), args.copies)
    corpus_bytes = sum(os.path.getsize(p) for pattern in corpus.split(",")
                       for p in glob.glob(pattern))
    name = "shakespeare (hamlet, macbeth)" if args.quick else "shakespeare (42 plays)"
    benchmark = "prepare_vs_reference" + (f"_{args.copies}_copies" if args.copies > 1 else "")
    result = BenchmarkResult(benchmark, rounds=args.rounds, settings={
        "corpus": name if args.copies == 1 else f"{name}, {args.copies} copies",
        "corpus_bytes": corpus_bytes, **SETTINGS, "workers": args.workers,
        "spm_model": os.path.basename(os.path.dirname(spm_model)) + "/spiece.model"
        if not args.spm_model else os.path.basename(spm_model)})
    contenders = {"reference": lambda: run_reference(args.reference, corpus, spm_model, work)}
    for value in args.workers.split(","):
        contenders[f"ours workers={value}"] = (
            lambda value=value: run_ours(corpus, spm_model, work,
                                         None if value == "auto" else int(value)))
    try:
        measured = run_rounds(contenders, args.rounds,
                              log=lambda line: print(line, file=sys.stderr, flush=True))
        stages = subprocess.run([sys.executable, __file__, "--stages", corpus, spm_model,
                                 os.path.join(work, "stages")], capture_output=True, text=True,
                                cwd=REPO, check=True, env={**os.environ,
                                                           "TF_CPP_MIN_LOG_LEVEL": "2"})
        result.settings["our_stages_seconds"] = json.loads(stages.stdout.strip().splitlines()[-1])
        result.settings["startup_seconds"] = import_seconds()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.settings["reference_shim"] = measured["reference"][0].get("shim")
    if measured["reference"][0].get("stages"):
        result.settings["reference_stages_seconds"] = measured["reference"][0]["stages"]
    in_tool = all(run.get("in_tool_seconds") for runs in measured.values() for run in runs)
    for name, runs in measured.items():
        result.settings[f"{name} sequences"] = runs[0]["sequences"]
        result.add_figure(f"{name} wall sequences/s",
                          [run["sequences"] / run["wall_seconds"] for run in runs], unit="seq/s",
                          precision="n/a", device="CPU",
                          wall_seconds_rounds=[run["wall_seconds"] for run in runs],
                          cpu_seconds_rounds=[run["cpu_seconds"] for run in runs])
        if in_tool:
            result.add_figure(f"{name} in-tool sequences/s",
                              [run["sequences"] / run["in_tool_seconds"] for run in runs],
                              unit="seq/s", precision="n/a", device="CPU",
                              in_tool_seconds_rounds=[run["in_tool_seconds"] for run in runs])
    for name in measured:
        if name != "reference":
            result.add_comparison(f"{name} vs reference, wall", f"{name} wall sequences/s",
                                  "reference wall sequences/s")
            if in_tool:
                result.add_comparison(f"{name} vs reference, in-tool",
                                      f"{name} in-tool sequences/s",
                                      "reference in-tool sequences/s")
    result.note("Wall: the whole process, interpreter start and imports included (see "
                "settings.startup_seconds); in-tool: the reference's first to last log line, "
                "our manifest's seconds. Sequences/s, so a tool that writes more sequences is "
                "not penalised for it.")
    document = result.write(args.out)
    print(table(document))
    print(f"wrote {args.out}")
    return 0


def table(document: dict) -> str:
    """The figures and speed-ups of a result document, for reading at the terminal."""
    lines = ["| figure | median | min-max |", "|---|---|---|"]
    for name, figure in document["figures"].items():
        lines.append(f"| {name} | {figure['median']:,.0f} | {figure['min']:,.0f}-"
                     f"{figure['max']:,.0f} |")
    for name, comparison in document["comparisons"].items():
        lines.append(f"| {name} | {comparison['median']:.2f}x | {comparison['min']:.2f}-"
                     f"{comparison['max']:.2f}: {comparison['verdict']} |")
    lines.append("Our stages (seconds, one more run in one process): " + ", ".join(
        f"{k} {v}" for k, v in document["settings"]["our_stages_seconds"].items()))
    lines.append("Start-up (wall seconds of a process that only imports): " + ", ".join(
        f"{k} {v}" for k, v in document["settings"]["startup_seconds"].items()))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
