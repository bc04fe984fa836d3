import json
import os

import pytest

from albert_keras.export import read_models_config
from albert_keras.jobs.export_pipeline import export_pipeline
from albert_keras.pipeline import ConfigError, pipeline_from_dict
from albert_keras.tokenizers.tokenizer_files import save_tokenizer
from tests.helpers import wordpiece
from tests.helpers.export_models import tiny_classifier, tiny_encoder


def pipeline(tmp_path, **export):
    return pipeline_from_dict({
        "name": "demo",
        "data": {"max_sequence_length": 12},
        "train": {"output_dir": str(tmp_path / "runs")},
        "finetune": {"output_dir": str(tmp_path / "finetuned")},
        "export": {"base_dir": str(tmp_path / "saved_models"), **export},
    })


def write_run(run_dir, model, tokenizer, labels=None):
    os.makedirs(run_dir, exist_ok=True)
    model.save(os.path.join(run_dir, "model.keras" if labels else "encoder.keras"))
    save_tokenizer(tokenizer, os.path.join(run_dir, "tokenizer"))
    if labels:
        with open(os.path.join(run_dir, "labels.json"), "w") as f:
            json.dump({"task": "text_classification", "labels": labels,
                       "max_sequence_length": 10}, f)


def test_exports_the_pretrained_encoder_and_prints_how_to_serve_it(tmp_path, capsys):
    tokenizer = wordpiece()
    write_run(tmp_path / "runs" / "demo", tiny_encoder(tokenizer), tokenizer)
    version_dir = export_pipeline(pipeline(tmp_path))
    assert version_dir == str(tmp_path / "saved_models" / "demo" / "1")
    printed = capsys.readouterr().out
    models_config = os.path.join(tmp_path, "saved_models", "models.config")
    assert f"tensorflow_model_server --port=8500 --rest_api_port=8501 " \
           f"--model_config_file={models_config}" in printed
    assert "docker run --rm -p 8500:8500 -p 8501:8501" in printed
    assert "curl -s -X POST http://localhost:8501/v1/models/demo:predict" in printed
    assert [c.name for c in read_models_config(models_config).model_config_list.config] == ["demo"]

    with pytest.raises(FileExistsError, match="Version 1 of model 'demo'"):
        export_pipeline(pipeline(tmp_path, version=1))
    os.makedirs(tmp_path / "saved_models" / "demo" / "5")  # another exporter's version 5
    (tmp_path / "saved_models" / "demo" / "5" / "saved_model.pb").write_bytes(b"")
    assert export_pipeline(pipeline(tmp_path)).endswith(os.path.join("demo", "6"))


def test_a_finetuned_model_is_preferred_and_keeps_its_labels(tmp_path):
    tokenizer = wordpiece()
    write_run(tmp_path / "runs" / "demo", tiny_encoder(tokenizer), tokenizer)
    write_run(tmp_path / "finetuned" / "demo", tiny_classifier(tokenizer.vocabulary_size()),
              tokenizer, labels=["bad", "ok", "good"])
    version_dir = export_pipeline(pipeline(tmp_path, model_name="sentiment"))
    assert version_dir.endswith(os.path.join("sentiment", "1"))
    with open(os.path.join(version_dir, "assets", "labels.txt")) as f:
        assert f.read().split() == ["bad", "ok", "good"]


def test_missing_model_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"runs/demo/encoder.keras"):
        export_pipeline(pipeline(tmp_path))


@pytest.mark.parametrize("key, value, message", [
    ("version", 0, "export.version=0"),
    ("model_name", "a b", "export.model_name='a b'"),
    ("sequence_length", 2, "export.sequence_length=2"),
    ("grpc_port", 70000, "export.grpc_port=70000"),
    ("overwrite", "yes", "export.overwrite='yes'"),
    ("format", "tflite", "export.format='tflite'"),
    ("quantize", "dynamic_int8", "export.quantize='dynamic_int8'"),  # not for saved_model
])
def test_config_errors_name_the_key(tmp_path, key, value, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        pipeline(tmp_path, **{key: value})


def test_onnx_format_through_the_cli_writes_ids_model_and_tokenizer(tmp_path):
    pytest.importorskip("onnxruntime")
    import yaml

    from albert_keras.cli import main

    tokenizer = wordpiece()
    write_run(tmp_path / "finetuned" / "demo", tiny_classifier(tokenizer.vocabulary_size()),
              tokenizer, labels=["bad", "ok", "good"])
    config = tmp_path / "demo.yaml"
    config.write_text(yaml.safe_dump({
        "name": "demo", "train": {"output_dir": str(tmp_path / "runs")},
        "finetune": {"output_dir": str(tmp_path / "finetuned")},
        "export": {"base_dir": str(tmp_path / "saved_models")}}))
    assert main(["export", "--config", str(config), "--format", "onnx"]) == 0
    directory = tmp_path / "saved_models" / "demo_onnx"
    assert sorted(p.name for p in directory.iterdir()) == ["model.onnx", "model_info.json",
                                                          "tokenizer"]
    assert json.loads((directory / "model_info.json").read_text())["labels"] == [
        "bad", "ok", "good"]
    assert not (tmp_path / "saved_models" / "models.config").exists()  # Not a TF Serving model.


def test_a_run_on_a_url_without_its_run_record_is_refused_by_name(tmp_path, ram_dir):
    from albert_keras.utils import file_io

    model_path = f"{ram_dir}/runs/x/encoder.keras"  # Outputs moved in, `run.json` not yet.
    file_io.write_bytes(model_path, b"a .keras zip")
    file_io.write_text(f"{ram_dir}/runs/x/tokenizer/tokenizer.json", "{}")
    with pytest.raises(FileNotFoundError, match=r"The run of ram://.*/encoder.keras is not "
                                                r"published: ram://.*/runs/x/run.json is missing"):
        export_pipeline(pipeline(tmp_path, base_dir=f"{ram_dir}/saved_models"),
                        model_path=model_path)
    assert not file_io.exists(f"{ram_dir}/saved_models")
