"""`export` and `convert` refuse a tokenizer that is not the one the model was trained with: by
the fingerprint published with the model, or by vocabulary size for a run made before."""

import json
import os

import keras
import pytest

from albert_keras import Encoder
from albert_keras.convert.formats_out import convert_out
from albert_keras.jobs.export_pipeline import check_model_tokenizer, export_pipeline
from albert_keras.pipeline import pipeline_from_dict
from albert_keras.tokenizers.tokenizer_files import save_tokenizer, tokenizer_fingerprint
from albert_keras.utils.published_run import publish_run
from tests.helpers import sentencepiece, wordpiece


def _encoder(vocabulary_size):
    keras.utils.set_random_seed(0)
    return Encoder(vocabulary_size=vocabulary_size, num_layers=1, num_heads=2, hidden_dim=8,
                   intermediate_dim=16, max_sequence_length=16)


def _export_config(tmp_path):
    return pipeline_from_dict({"name": "ft1", "export": {"base_dir": str(tmp_path / "saved")}})


def test_export_and_convert_refuse_a_bert_model_beside_an_albert_tokenizer(tmp_path):
    # The run: a WordPiece model.keras left beside an older SentencePiece tokenizer/.
    run = tmp_path / "ft1"
    run.mkdir()
    _encoder(wordpiece().vocabulary_size()).save(str(run / "model.keras"))
    save_tokenizer(sentencepiece(), str(run / "tokenizer"))
    expected = (rf"The tokenizer {run / 'tokenizer'} \(48 tokens\) does not belong to "
                rf"{run / 'model.keras'} \(vocabulary_size={wordpiece().vocabulary_size()}\)")
    with pytest.raises(ValueError, match=expected):
        export_pipeline(_export_config(tmp_path), model_path=str(run / "model.keras"))
    assert not (tmp_path / "saved").exists()  # Nothing exported.
    with pytest.raises(ValueError, match=expected):
        convert_out(str(run / "model.keras"), str(tmp_path / "hf"), "hf")
    assert not (tmp_path / "hf").exists()


def test_a_published_model_accepts_its_own_tokenizer_and_refuses_another(tmp_path):
    tokenizer = wordpiece()
    model = _encoder(tokenizer.vocabulary_size())
    run = str(tmp_path / "ft1")

    def write(staging):
        model.save(os.path.join(staging, "model.keras"))
        save_tokenizer(tokenizer, os.path.join(staging, "tokenizer"))

    own = str(tmp_path / "own")
    save_tokenizer(tokenizer, own)
    publish_run(run, write, {"tokenizer_fingerprint": tokenizer_fingerprint(own)})
    check_model_tokenizer(os.path.join(run, "model.keras"), model,
                          os.path.join(run, "tokenizer"), tokenizer)  # Its own: accepted.

    other = tmp_path / "other"  # Same vocabulary size, other normalization.
    save_tokenizer(tokenizer, str(other))
    settings = json.loads((other / "tokenizer.json").read_text())
    (other / "tokenizer.json").write_text(json.dumps({**settings, "lowercase": False}))
    with pytest.raises(ValueError, match=rf"The tokenizer {other} \(fingerprint \w{{12}}\) is "
                                         r"not the one .*ft1/model.keras was trained with"):
        export_pipeline(pipeline_from_dict({"name": "ft1", "export": {
            "base_dir": str(tmp_path / "saved"), "tokenizer_path": str(other)}}),
            model_path=os.path.join(run, "model.keras"))
    assert not (tmp_path / "saved").exists()
