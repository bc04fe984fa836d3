"""`ServingSettings`, the `labels.json` contract: written by `finetune`, read by `export`."""

import json

import pytest

from albert_keras.jobs.finetune_config import FinetuneConfig
from albert_keras.tasks import ServingSettings
from albert_keras.tokenizers.sequence_layout import default_doc_stride


def test_round_trip_through_labels_json(tmp_path):
    path = str(tmp_path / "labels.json")
    settings = ServingSettings(task="text_classification", labels=["neg", "pos"],
                               multi_label=False, max_sequence_length=32)
    settings.write(path)
    with open(path) as f:  # Unset fields are left out; labels are a JSON list.
        assert json.load(f) == {"task": "text_classification", "labels": ["neg", "pos"],
                                "multi_label": False, "max_sequence_length": 32}
    assert ServingSettings.read(path) == settings and settings.labels == ("neg", "pos")
    spans = ServingSettings(task="span_extraction", max_sequence_length=128,
                            max_query_length=32, max_answer_length=30, doc_stride=40)
    spans.write(path)
    assert ServingSettings.read(path) == spans


def test_labels_json_is_read_from_a_url(ram_dir):
    settings = ServingSettings(task="token_classification", labels=("O", "X"))
    settings.write(f"{ram_dir}/labels.json")
    assert ServingSettings.read(f"{ram_dir}/labels.json") == settings


@pytest.mark.parametrize("max_sequence_length,max_query_length", [(128, 64), (24, 6), (384, 64)])
def test_a_span_run_without_doc_stride_gets_the_training_default(tmp_path, max_sequence_length,
                                                                 max_query_length):
    """A `labels.json` from before `doc_stride` was stored serves the windows the run trained
    on: `finetune.doc_stride: null` meant `default_doc_stride`."""
    path = tmp_path / "labels.json"
    path.write_text(json.dumps({"task": "span_extraction", "labels": None, "multi_label": False,
                                "max_sequence_length": max_sequence_length,
                                "max_query_length": max_query_length,
                                "max_answer_length": 30}))
    settings = ServingSettings.read(str(path))
    trained = FinetuneConfig(task="span_extraction", max_sequence_length=max_sequence_length,
                             max_query_length=max_query_length)
    assert settings.doc_stride == trained.context_stride() == default_doc_stride(
        max_sequence_length, max_query_length)


def test_span_defaults_are_the_finetune_defaults():
    settings = ServingSettings(task="span_extraction", max_sequence_length=128)
    assert (settings.max_query_length, settings.doc_stride) == (64, 30)
    assert FinetuneConfig(task="span_extraction").context_stride() == 30
    unknown_length = ServingSettings(task="span_extraction")  # Resolved once it is known.
    assert unknown_length.doc_stride is None and unknown_length.max_query_length == 64
    assert ServingSettings(max_sequence_length=128).doc_stride is None  # Task not known yet.


@pytest.mark.parametrize("content,message", [
    ("[1, 2]", r"labels\.json must hold a JSON object. Received: list"),
    ('{"task": "span_extraction", "stride": 3}', r"labels\.json: unknown key\(s\) \['stride'\]"),
    ('{"task": "summarization"}', r"labels\.json: `task` must be one of .* task='summarization'"),
    ('{"doc_stride": 0}', r"labels\.json: `doc_stride` must be a positive integer or None. "
                          r"Received: doc_stride=0"),
    ('{"max_sequence_length": true}',
     r"`max_sequence_length` .* Received: max_sequence_length=True"),
    ('{"labels": "pos"}', r"`labels` must be a list of strings or None. Received: labels='pos'"),
    ('{"multi_label": "yes"}', r"`multi_label` must be true, false or None"),
    ("{not json", r"labels\.json: not valid JSON"),
])
def test_bad_labels_json_names_the_file_and_the_value(tmp_path, content, message):
    path = tmp_path / "labels.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        ServingSettings.read(str(path))
