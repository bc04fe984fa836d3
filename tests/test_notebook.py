"""notebooks/quickstart.ipynb runs end to end with tiny settings, and says true things.

The settings are injected the way papermill does it: a cell placed right after the cell tagged
`parameters` overrides its values. Every file the notebook writes goes under `tmp_path` (its
`WORK_DIR`, and the kernel's working directory).
"""

import json
import os
import re
import sys

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

NOTEBOOK = os.path.join(os.path.dirname(__file__), "..", "notebooks", "quickstart.ipynb")
SIZE_PRESETS = ["albert_tiny", "bert_tiny"]
KERNEL_NAME = "albert-keras-notebook-test"


def tiny_parameters(work_dir: str) -> dict:
    return {
        "WORK_DIR": work_dir, "STRATEGY": "auto", "SIZE_PRESETS": SIZE_PRESETS,
        "MODEL_PRESET": "albert_tiny",
        "MODEL_OVERRIDES": {"num_layers": 2, "num_heads": 2, "hidden_dim": 16,
                            "intermediate_dim": 32, "embedding_dim": 8, "max_sequence_length": 32},
        "MAX_DOCUMENTS": 12, "VOCABULARY_SIZE": 200, "SEQUENCE_LENGTH": 32, "DUPE_FACTOR": 1,
        "MAX_PREDICTIONS": 5, "BATCH_SIZE": 8, "PRETRAIN_STEPS": 4, "STEPS_PER_EPOCH": 4,
        "LEARNING_RATE": 0.01, "TOPIC_PACKAGES": ["email", "http", "xml"],
        "EXAMPLES_PER_LABEL": 20, "FINETUNE_SEQUENCE_LENGTH": 32, "FINETUNE_EPOCHS": 1,
        "FINETUNE_LEARNING_RATE": 1e-3, "COMPARE_WITH_TRANSFORMERS": True, "SEED": 0,
    }


def inject_parameters(notebook, parameters: dict) -> None:
    """Adds a cell after the one tagged `parameters` that sets `parameters` (as papermill does)."""
    tagged = [i for i, cell in enumerate(notebook.cells)
              if "parameters" in cell.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"expected one cell tagged 'parameters', found {len(tagged)}"
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    cell.pop("id", None)
    notebook.cells.insert(tagged[0] + 1, cell)


def write_kernel_spec(directory) -> None:
    """A kernel spec that runs this interpreter (the venv with the package installed)."""
    spec_dir = directory / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "albert_keras test", "language": "python"}))


def cell_text(cell) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", [])
                   if output.get("output_type") == "stream" and output.get("name") == "stdout")


@pytest.mark.large
def test_quickstart_notebook_runs_end_to_end(tmp_path, monkeypatch):
    import keras

    from albert_keras import Encoder

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells), "commit it without outputs"
    work_dir = tmp_path / "work"
    inject_parameters(notebook, tiny_parameters(str(work_dir)))
    write_kernel_spec(tmp_path / "jupyter")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name=KERNEL_NAME,
                                     resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()  # A failing cell raises CellExecutionError, naming the cell.
    finally:
        nbformat.write(notebook, str(tmp_path / "executed.ipynb"))
    text = "\n".join(cell_text(cell) for cell in notebook.cells)
    repository = os.path.dirname(os.path.dirname(os.path.abspath(NOTEBOOK)))
    for folder in (repository, os.path.dirname(os.path.abspath(NOTEBOOK))):
        assert not os.path.exists(os.path.join(folder, "albert_keras_quickstart"))

    # Step 1: the printed sizes are the encoders' own counts.
    printed = dict(re.findall(r"^(\w+): ([\d,]+) parameters \(share=", text, re.MULTILINE))
    assert sorted(printed) == sorted(SIZE_PRESETS), text
    for name in SIZE_PRESETS:
        keras.utils.set_random_seed(0)
        assert int(printed[name].replace(",", "")) == Encoder.from_preset(name).count_params()
    # The table of every preset (counted without building) has the published sizes.
    assert re.search(r"^albert_base .* 11,683,584 ", text, re.MULTILINE), text
    assert re.search(r"^bert_base .* 109,482,240 ", text, re.MULTILINE), text

    # Step 3: the pretraining run saved its encoder and tokenizer.
    run_dir = work_dir / "runs" / "albert_quickstart"
    assert (run_dir / "encoder.keras").is_file() and (run_dir / "tokenizer").is_dir()

    # Step 5: the SavedModel answered every raw text with a probability per label, summing to 1.
    rows = re.findall(r"^ *(\w+): ([\d. ]+)\(sum ([\d.]+)\)", text, re.MULTILINE)
    assert len(rows) == 6, text
    for predicted, numbers, total in rows:
        probabilities = [float(p) for p in numbers.split()]
        assert predicted in ("email", "http", "xml")
        assert len(probabilities) == 3 and abs(sum(probabilities) - 1) < 0.01
        assert float(total) == pytest.approx(1.0, abs=1e-3)
    assert os.path.isfile(work_dir / "saved_models" / "stdlib_topics" / "1" / "saved_model.pb")

    # Step 6: a Hugging Face directory with the labels, and transformers agrees with the export.
    hf_dir = work_dir / "hf" / "stdlib_topics"
    with open(hf_dir / "config.json", encoding="utf-8") as f:
        hf_config = json.load(f)
    assert sorted(hf_config["id2label"].values()) == ["email", "http", "xml"]
    assert (hf_dir / "model.safetensors").is_file()
    difference = re.search(r"largest difference from the SavedModel's logits: (\S+)", text)
    assert difference is not None, text
    assert float(difference.group(1)) < 1e-4
