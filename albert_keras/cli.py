"""`albert-keras`: the command line. It only parses arguments and calls the package."""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import shutil
import sys


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = _make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return args.run(args) or 0
    except Exception as error:  # noqa: BLE001 - user errors become one line; others re-raise.
        code, line = _user_error(error, args)
        if code is None:
            raise
        print(f"albert-keras {args.command}: error: {line}", file=sys.stderr)
        return code


def _user_error(error: Exception, args) -> tuple[int | None, str]:
    """`(exit code, one line)` for an error the user can act on; `(None, "")` for a bug.

    A full disk, a place another job is writing and a failed run exit 1; a bad config or
    input (named by key, file or row) exits 2, like a usage error.
    """
    disk_full = _disk_full(error, getattr(args, "output_places", []),
                           getattr(args, "bytes_needed", None))
    if disk_full:
        return 1, disk_full
    from albert_keras.utils.run_lock import PlaceLocked

    if isinstance(error, PlaceLocked):
        return 1, str(error)
    if isinstance(error, RuntimeError):
        from albert_keras.jobs.pretrain import TrainingFailed

        if isinstance(error, TrainingFailed):
            return 1, str(error)  # A failed run fails; the message says what was kept.
    if isinstance(error, (ValueError, FileNotFoundError, FileExistsError)):
        from albert_keras.pipeline import ConfigError

        if isinstance(error, ConfigError) or getattr(args, "config", None):
            return 2, str(error)
    return None, ""


def _disk_full(error: BaseException, places: list[str],
               needed: int | None = None) -> str | None:
    """One line for an error a full disk caused (an `OSError` ENOSPC / EDQUOT, or a
    TensorFlow or h5py error saying so), naming the path (else the job's output `places`),
    the space left there and, when known, about how much the job's models and backups need
    (`disk_space.bytes_needed`)."""
    chain = []
    while error is not None and error not in chain:  # The error and what it was raised from.
        chain.append(error)
        error = error.__cause__ or error.__context__
    full = [e for e in chain if getattr(e, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
            or any(text in str(e) for text in ("No space left on device", "Disk quota exceeded"))]
    if not full:
        return None
    path = getattr(full[0], "filename", None) or _path_in(str(full[0]))
    where = (f"writing {path}" if path else f"writing to {', '.join(places)}" if places
             else "writing its outputs")
    free = _free_bytes(path or (places[0] if places else "."))
    room = f"; {free:,} bytes free there" if free is not None else ""
    if needed:
        room += f"; its models and backups need about {needed:,} bytes"
    return (f"no space left on the device while {where}{room}. Free some space (or write "
            "elsewhere) and run the command again.")


def _path_in(text: str) -> str | None:
    """The path an error message names: before TensorFlow's "; No space left on device",
    else the first quoted one (h5py's `name = '...'`); None when it names none."""
    match = re.search(r"([^\s;]*/[^\s;]*); No space left on device", text) \
        or re.search(r"""['"]([^'"\s]*/[^'"\s]*)['"]""", text)
    return match.group(1) if match else None


def _free_bytes(path: str) -> int | None:
    directory = os.path.abspath(path)
    while not os.path.exists(directory) and os.path.dirname(directory) != directory:
        directory = os.path.dirname(directory)
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


def _make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="albert-keras",
        description="BERT and ALBERT in Keras 3: presets, data, pretraining, fine-tuning, export, "
                    "comparison.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    presets = commands.add_parser("presets", help="table of encoder presets and sharing modes")
    presets.set_defaults(run=_presets)

    for name, run, text in (
            ("prepare", _prepare, "corpus -> tokenizer -> sentence pairs -> TFRecord shards"),
            ("pretrain", _pretrain, "pretrain an encoder with model.fit"),
            ("finetune", _finetune, "fine-tune a task model with model.fit"),
            ("export", _export, "export a SavedModel for TensorFlow Serving, or ONNX / LiteRT"),
            ("compare", _compare, "train BERT/ALBERT arms side by side; report with plots")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--config", required=True, help="pipeline YAML, e.g. pipelines/albert_tiny.yaml")
        sub.add_argument("--set", dest="overrides", action="append", default=[],
                         metavar="KEY=VALUE", help="override a config value, e.g. train.steps=200")
        sub.set_defaults(run=run)
        if name == "prepare":
            sub.add_argument("--static-masking", action="store_true",
                             help="also write masked features into the records")
            sub.add_argument("--runner", choices=("local", "beam"),
                             help="local (this machine) or beam (an Apache Beam pipeline); "
                                  "same as --set data.runner=...")
            sub.add_argument("--beam-option", dest="beam_options", action="append",
                             metavar="KEY=VALUE",
                             help="a Beam pipeline option, repeatable, e.g. runner=FlinkRunner "
                                  "or direct_num_workers=2; sets data.beam_options")
        if name == "export":
            sub.add_argument("--model", help="a .keras file (default: the pipeline's trained model)")
            sub.add_argument("--version", type=int, help="version number (default: next free)")
            sub.add_argument("--overwrite", action="store_true", help="replace an existing version")
            sub.add_argument("--format", choices=("saved_model", "onnx", "litert"),
                             help="saved_model (TF Serving, default), or onnx / litert (token "
                                  "ids in, tokenizer beside); same as --set export.format=...")
            sub.add_argument("--quantize", choices=("none", "dynamic_int8"),
                             help="litert: dynamic-range int8 weights")

    convert = commands.add_parser(
        "convert", help="import a checkpoint into .keras, or write a model in another format")
    convert.add_argument("source", help="HF directory, TF1 checkpoint prefix, keras-hub preset "
                                        "dir, or (with --to hf/keras-hub) a .keras model of ours")
    convert.add_argument("destination", help="output .keras file, or directory with --to "
                                             "hf/keras-hub")
    convert.add_argument("--to", choices=("keras", "hf", "keras-hub"), default="keras",
                         help="keras: import into .keras (default); hf: write a Hugging Face "
                              "directory; keras-hub: write a keras-hub preset directory")
    convert.add_argument("--tokenizer", help="with --to hf/keras-hub: tokenizer dir, .model or "
                                             "vocab.txt (default: tokenizer/ beside a .keras "
                                             "source)")
    convert.add_argument("--task", choices=("encoder", "pretrainer"), default="encoder")
    convert.add_argument("--overwrite", action="store_true",
                         help="replace an existing destination and its tokenizer/")
    convert.set_defaults(run=_convert)
    return parser


def _load(args):
    from albert_keras.pipeline import load_pipeline, output_places

    config = load_pipeline(args.config, args.overrides, command=args.command)
    args.output_places = output_places(config, args.command)  # Named if the disk fills up.
    args.bytes_needed = _bytes_needed(config, args.command)  # Said then too.
    _register_keras_classes()
    return config


def _register_keras_classes() -> None:
    """What `import albert_keras` does outside the CLI, done once the input is checked:
    every Keras class the package saves is registered (albert_keras/utils/lazy_exports.py)."""
    from albert_keras.utils.lazy_exports import register_keras_classes

    register_keras_classes()


def _bytes_needed(config, command: str) -> int | None:
    from albert_keras.disk_space import bytes_needed

    try:
        return bytes_needed(config, command)
    except (ValueError, OSError):  # Only an estimate for a message: never a reason to fail.
        return None


def _presets(args) -> int:
    from albert_keras.models.preset_table import format_preset_table

    print(format_preset_table())
    return 0


def _prepare(args) -> int:
    if args.runner:
        args.overrides.append(f"data.runner={args.runner}")
    if args.beam_options:
        args.overrides.append(f"data.beam_options={json.dumps(args.beam_options)}")
    config = _load(args)  # Bad configs fail before anything heavy is imported.
    from albert_keras.pipeline import prepare_job

    prepare_job(config, static_masking=args.static_masking)
    return 0


def _pretrain(args) -> int:
    config = _load(args)
    import keras

    from albert_keras.pipeline import prepare_and_pretrain

    keras.utils.set_random_seed(config.train.seed)  # The job's seed; the library sets none.
    prepare_and_pretrain(config)
    return 0


def _finetune(args) -> int:
    config = _load(args)
    from albert_keras.pipeline import finetune_job

    finetune_job(config)  # `finetune`, or one run per rate of finetune.learning_rates.
    return 0


def _export(args) -> int:
    args.overrides += [f"export.{name}={getattr(args, name)}" for name in ("format", "quantize")
                       if getattr(args, name)]
    config = _load(args)
    from albert_keras.pipeline import export_job

    export_job(config, model_path=args.model, version=args.version, overwrite=args.overwrite)
    return 0


def _compare(args) -> int:
    config = _load(args)
    from albert_keras.compare import compare

    compare(config)
    return 0


def _convert(args) -> int:
    from albert_keras.utils.storage import check_local_path

    try:
        for name in ("source", "destination", "tokenizer"):
            # Before anything heavy is imported; converters write local files only.
            check_local_path(name, getattr(args, name), "convert")
        _register_keras_classes()
        from albert_keras.convert import convert, convert_out

        if args.to != "keras":
            convert_out(args.source, args.destination, args.to, task=args.task,
                        tokenizer=args.tokenizer, overwrite=args.overwrite)
        else:
            convert(args.source, args.destination, task=args.task, overwrite=args.overwrite)
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"albert-keras convert: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
