"""`albert-keras`: the command line. It only parses arguments and calls the package."""

from __future__ import annotations

import argparse
import json
import os
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
    except RuntimeError as error:
        from albert_keras.training.pretrain import TrainingFailed

        if not isinstance(error, TrainingFailed):
            raise
        print(f"albert-keras {args.command}: error: {error}", file=sys.stderr)
        return 1  # A failed run fails; the message says what was kept.
    except (ValueError, FileNotFoundError, FileExistsError) as error:  # One clear line.
        from albert_keras.pipeline import ConfigError

        if isinstance(error, ConfigError) or getattr(args, "config", None):
            print(f"albert-keras {args.command}: error: {error}", file=sys.stderr)
            return 2
        raise


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
    from albert_keras.pipeline import load_pipeline

    return load_pipeline(args.config, args.overrides)


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
    from albert_keras.tasks.task_corpus import prepare_records

    prepare_records(config, static_masking=args.static_masking)
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
    from albert_keras.training.finetune_grid import finetune_with_grid

    finetune_with_grid(config)  # `finetune`, or one run per rate of finetune.learning_rates.
    return 0


def _export(args) -> int:
    args.overrides += [f"export.{name}={getattr(args, name)}" for name in ("format", "quantize")
                       if getattr(args, name)]
    config = _load(args)
    from albert_keras.export.export_pipeline import export_pipeline

    export_pipeline(config, model_path=args.model, version=args.version,
                    overwrite=args.overwrite)
    return 0


def _compare(args) -> int:
    config = _load(args)
    from albert_keras.compare import compare

    compare(config)
    return 0


def _convert(args) -> int:
    from albert_keras.convert import convert, convert_out

    try:
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
