"""Conventional loading: after `import albert_keras`, `keras.saving.load_model` loads every
`.keras` file the package writes, in a fresh process; the jobs save models that compute in
float32 whatever they were trained in, with the training precision beside them; bfloat16 is
one `copy_with_dtype` away. (The CLI side, a bad config answered before TensorFlow is
imported, is in tests/test_cli.py.)"""

import ast
import json
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from albert_keras import (Encoder, Pretrainer, SpanExtractor, TextClassifier, TokenClassifier,
                          copy_with_dtype)
from albert_keras.utils import lazy_exports

REPO = pathlib.Path(__file__).resolve().parent.parent
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "film", "was", "a", "plot",
              "good", "great", "bad", "awful", "very"]
TINY = dict(vocabulary_size=len(VOCABULARY), num_layers=2, num_heads=2, hidden_dim=16,
            intermediate_dim=32, embedding_dim=8, share="all", max_sequence_length=16)

# Run in a fresh interpreter: the only imports a user makes, then every saved file loads.
_LOAD_IN_A_FRESH_PROCESS = r"""
import json, sys
import keras
import numpy as np
import albert_keras

directory, names = sys.argv[1], json.loads(sys.argv[2])
results = {"unregistered": [n for n in names if keras.saving.get_registered_object(n) is None]}

def layers(model):
    for layer in getattr(model, "layers", []):
        yield layer
        yield from layers(layer)

outputs = {}
for name, spec in json.loads(open(directory + "/files.json").read()).items():
    model = keras.saving.load_model(spec["path"])
    inputs = dict(np.load(spec["inputs"]))
    for i, value in enumerate(keras.tree.flatten(model(inputs.get("text", inputs)))):
        outputs[f"{name}/{i}"] = keras.ops.convert_to_numpy(value)
    optimizer = model.optimizer if getattr(model, "compiled", False) else None
    results[name] = {
        "class": type(model).__name__,
        "policies": sorted({layer.dtype_policy.name for layer in [model, *layers(model)]}),
        "optimizer": None if optimizer is None else [int(optimizer.iterations), sum(
            float(np.abs(keras.ops.convert_to_numpy(v)).sum()) for v in optimizer.variables)]}
np.savez(directory + "/loaded.npz", **outputs)
print(json.dumps(results))
"""


def registered_names() -> list[str]:
    """`package>Name` of every class and function in albert_keras/ decorated with
    `register_keras_serializable`, read from the source (nothing imported)."""
    names = []
    for path in sorted((REPO / "albert_keras").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                continue
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and \
                        ast.unparse(decorator.func).endswith("register_keras_serializable"):
                    keywords = {k.arg: ast.literal_eval(k.value) for k in decorator.keywords}
                    names.append(f"{keywords.get('package', 'Custom')}>"
                                 f"{keywords.get('name', node.name)}")
    return names


def _ids(batch=2, length=10, seed=0):
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(5, len(VOCABULARY), (batch, length)).astype("int32")
    padding_mask = np.ones_like(token_ids)
    padding_mask[0, -3:], token_ids[0, -3:] = 0, 0
    return {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
            "padding_mask": padding_mask}


def _flat(outputs) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(value) for value in keras.tree.flatten(outputs)]


def _trained_mixed_pretrainer() -> Pretrainer:
    """A `Pretrainer` as `pretrain` makes it under `precision: mixed_bfloat16`, one step on."""
    from albert_keras.jobs.train_config import TrainConfig
    from albert_keras.training.pretraining import compile_pretrainer

    keras.utils.set_random_seed(1)
    pretrainer = Pretrainer(Encoder(**TINY, dtype="mixed_bfloat16"))
    compile_pretrainer(pretrainer, TrainConfig(steps=2, steps_per_epoch=1, warmup_steps=1,
                                               global_batch_size=2, precision="mixed_bfloat16"))
    x = {**_ids(), "mask_positions": np.array([[1, 2], [3, 4]], "int32")}
    y = {"mlm": np.array([[5, 6], [7, 8]], "int32"), "pair": np.array([0, 1], "int32")}
    pretrainer.fit(x, y, epochs=1, verbose=0)
    return pretrainer


def _finetune_run(directory: pathlib.Path) -> dict:
    """A tiny `finetune` run under `precision: mixed_bfloat16` (one epoch of 32 reviews)."""
    from albert_keras.jobs.finetune import finetune
    from albert_keras.pipeline import pipeline_from_dict

    rng = np.random.default_rng(0)
    rows = ["text,label"] + [f"the film was {rng.choice(['good', 'great'])},pos" if i % 2 else
                             f"a very {rng.choice(['bad', 'awful'])} plot,neg" for i in range(32)]
    (directory / "train.csv").write_text("\n".join(rows) + "\n")
    keras.utils.set_random_seed(0)
    return finetune(pipeline_from_dict({
        "name": "tiny_finetune",
        "model": {"preset": "bert_tiny", **{k: v for k, v in TINY.items()
                                            if k not in ("vocabulary_size", "share")}},
        "finetune": {"tokenizer": str(directory / "vocab.txt"),
                     "train": str(directory / "train.csv"),
                     "max_sequence_length": 16, "batch_size": 16, "epochs": 1,
                     "precision": "mixed_bfloat16", "output_dir": str(directory / "runs"),
                     "tensorboard": False, "verbose": 0}}))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Every kind of `.keras` file the package writes, with the inputs to run each on and the
    float32 outputs expected; `files.json` lists them for the fresh process."""
    from albert_keras.jobs.pretrain_report import save_run
    from albert_keras.tasks.inputs.text_preprocessor import TextPreprocessor
    from albert_keras.tokenizers.tokenizer_files import load_tokenizer

    directory = tmp_path_factory.mktemp("saved")
    (directory / "vocab.txt").write_text("\n".join(VOCABULARY) + "\n")
    ids = _ids()
    files, expected = {}, {}

    def add(name, path, inputs, outputs):
        np.savez(directory / f"{name}.inputs.npz", **inputs)
        files[name] = {"path": str(path), "inputs": str(directory / f"{name}.inputs.npz")}
        expected[name] = _flat(outputs)

    # `pretrain`'s files, from a model trained in mixed_bfloat16.
    pretrainer = _trained_mixed_pretrainer()
    save_run(str(directory / "pretrain"), pretrainer, str(directory / "vocab.txt"),
             {"name": "tiny", "precision": "mixed_bfloat16"})
    float32 = copy_with_dtype(pretrainer, "float32")
    add("encoder", directory / "pretrain" / "encoder.keras", ids, float32.encoder(ids))
    x = {**ids, "mask_positions": np.array([[1, 2], [0, 3]], "int32")}
    add("pretrainer", directory / "pretrain" / "pretrainer.keras", x, float32(x))
    state = [int(pretrainer.optimizer.iterations), sum(
        float(np.abs(keras.ops.convert_to_numpy(v)).sum()) for v in pretrainer.optimizer.variables)]

    # Task models saved by hand, and `finetune`'s model.keras (trained in mixed_bfloat16).
    encoder = Encoder(**TINY)
    for name, model in (("text_classifier", TextClassifier(encoder, num_classes=3)),
                        ("token_classifier", TokenClassifier(encoder, num_classes=4)),
                        ("span_extractor", SpanExtractor(encoder))):
        model.save(directory / f"{name}.keras")
        add(name, directory / f"{name}.keras", ids, model(ids))
    report = _finetune_run(directory)
    tuned = keras.saving.load_model(pathlib.Path(report["run_dir"]) / "model.keras")
    add("finetune", pathlib.Path(report["run_dir"]) / "model.keras", ids, tuned(ids))

    # A model holding the package's tokenizer and text preprocessor.
    text = keras.Input(shape=(), dtype="string")
    preprocessor = keras.Model(text, TextPreprocessor(load_tokenizer(
        str(directory / "vocab.txt")), 12)(text))
    preprocessor.save(directory / "preprocessor.keras")
    texts = np.array(["the film was good", "a very awful plot"])
    add("preprocessor", directory / "preprocessor.keras", {"text": texts}, preprocessor(texts))

    (directory / "files.json").write_text(json.dumps(files))
    return {"directory": directory, "expected": expected, "optimizer": state, "report": report,
            "mixed": pretrainer}


def test_import_albert_keras_is_all_load_model_needs_in_a_fresh_process(saved):
    names = registered_names()
    assert len(names) >= 19 and "albert_keras>Encoder" in names  # The scan finds them.
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_IN_A_FRESH_PROCESS, str(saved["directory"]),
         json.dumps(names)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded.pop("unregistered") == [], "add their modules to albert_keras/__init__.py"
    classes = {"encoder": "Encoder", "pretrainer": "Pretrainer", "finetune": "TextClassifier",
               "text_classifier": "TextClassifier", "token_classifier": "TokenClassifier",
               "span_extractor": "SpanExtractor", "preprocessor": "Functional"}
    assert {name: entry["class"] for name, entry in loaded.items()} == classes
    outputs = np.load(saved["directory"] / "loaded.npz")
    for name, expected in saved["expected"].items():
        for i, value in enumerate(expected):
            np.testing.assert_allclose(outputs[f"{name}/{i}"], value, atol=1e-5,
                                       err_msg=name)
    # Trained in mixed_bfloat16, saved in float32: the loaded models compute in float32.
    for name in ("encoder", "pretrainer", "finetune"):
        assert loaded[name]["policies"] == ["float32"], (name, loaded[name])
    # `pretrainer.keras` keeps its optimizer: iteration count and slots, as `model.save` would.
    assert loaded["pretrainer"]["optimizer"][0] == saved["optimizer"][0] == 1
    assert loaded["pretrainer"]["optimizer"][1] == pytest.approx(saved["optimizer"][1], rel=1e-6)
    assert loaded["finetune"]["optimizer"] is None  # Saved uncompiled: half the size.


def test_the_training_precision_is_recorded_beside_the_saved_models(saved):
    from albert_keras.utils.published_run import published_record

    pretrain_run = saved["directory"] / "pretrain"
    finetune_run = pathlib.Path(saved["report"]["run_dir"])
    for summary in (pretrain_run / "summary.json", finetune_run / "report.json"):
        assert json.loads(summary.read_text())["precision"] == "mixed_bfloat16"
    for model in (pretrain_run / "encoder.keras", finetune_run / "model.keras"):
        assert published_record(str(model))[0]["precision"] == "mixed_bfloat16"  # run.json


def test_loaded_models_opt_into_bfloat16_with_copy_with_dtype(saved):
    encoder = keras.saving.load_model(saved["directory"] / "pretrain" / "encoder.keras")
    bfloat16 = copy_with_dtype(encoder, "mixed_bfloat16")
    assert bfloat16.token_embedding.compute_dtype == "bfloat16"
    assert {layer.dtype_policy.name for layer in bfloat16.layers
            if not isinstance(layer, keras.layers.InputLayer)} == {"mixed_bfloat16"}
    assert copy_with_dtype(bfloat16, "mixed_bfloat16") is bfloat16  # Already so: no copy.
    ids = _ids()
    float32, mixed = _flat(encoder(ids)), _flat(bfloat16(ids))
    reference = _flat(saved["mixed"].encoder(ids))  # The model as it was trained.
    for a, b, c in zip(float32, mixed, reference):
        np.testing.assert_allclose(b, c, atol=1e-6)  # bf16 again: the trained computation.
        assert 0 < np.abs(a - b).max() < 0.1  # Close to float32, but not float32.


def test_save_float32_keeps_a_float32_model_as_it_is(tmp_path):
    from albert_keras.models.dtype_copy import save_float32

    keras.utils.set_random_seed(2)
    model = TextClassifier(Encoder(**TINY), num_classes=2)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    save_float32(model, str(tmp_path / "compiled.keras"))
    save_float32(model, str(tmp_path / "bare.keras"), include_optimizer=False)
    assert keras.saving.load_model(tmp_path / "compiled.keras").compiled
    bare = keras.saving.load_model(tmp_path / "bare.keras")
    assert not bare.compiled
    np.testing.assert_allclose(_flat(bare(_ids())), _flat(model(_ids())), atol=1e-6)


@pytest.mark.parametrize("argv,orig_argv,expected", [
    (["-m", "pretrain"], ["python", "-m", "albert_keras.cli", "pretrain"], True),
    (["-m", "x"], ["python", "-X", "importtime", "-Bm", "albert_keras.cli", "x"], True),
    (["-m"], ["python", "-malbert_keras.cli"], True),
    (["-m", "albert_keras.cli"], ["python", "-m", "albert_keras.compare.arm_process",
                                  "albert_keras.cli"], False),
    (["/venv/bin/albert-keras", "pretrain"], ["python", "/venv/bin/albert-keras", "pretrain"],
     True),
    (["albert-keras-script.py"], ["python", "albert-keras-script.py"], True),
    (["-c"], ["python", "-c", "import albert_keras"], False),
    (["/venv/bin/pytest", "tests"], ["python", "/venv/bin/pytest", "tests"], False),
    ([], [], False),
])
def test_cli_is_entry_point_only_for_the_command_line(argv, orig_argv, expected, monkeypatch):
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(sys, "orig_argv", orig_argv)
    assert lazy_exports.cli_is_entry_point() is expected


def test_a_keras_module_that_moved_is_named(monkeypatch):
    import types

    package = types.ModuleType("moved_package")
    package.__dict__["_keras_modules"] = ("albert_keras.layers.no_such_module",)
    monkeypatch.setitem(sys.modules, "moved_package", package)
    with pytest.raises(ImportError, match="lists 'albert_keras.layers.no_such_module' among its "
                                          "keras_modules"):
        lazy_exports.register_keras_classes("moved_package")


_SPAWNED = """
import multiprocessing, sys
sys.path.insert(0, {probe_dir!r})
sys.path.insert(0, {repo!r})
import probe

if __name__ == "__main__":
    with multiprocessing.get_context({method!r}).Pool(1) as pool:
        worker = pool.apply(probe.heavy_modules)
    import albert_keras
    print(worker, probe.heavy_modules())
"""


@pytest.mark.parametrize("method", ["spawn"])  # The start method the package uses.
def test_workers_that_multiprocessing_starts_register_lazily(tmp_path, method):
    (tmp_path / "probe.py").write_text(
        "import sys\n\n\ndef heavy_modules():\n    import albert_keras  # noqa: F401\n"
        "    return sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n")
    repo = str(pathlib.Path(__file__).resolve().parent.parent)
    script = _SPAWNED.format(probe_dir=str(tmp_path), repo=repo, method=method)
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             timeout=300, cwd=tmp_path)
    assert process.returncode == 0, process.stderr[-2000:]
    # The worker imported the package without TensorFlow; the main process registered all.
    assert process.stdout.split("\n")[-2] == "[] ['keras', 'tensorflow']"
