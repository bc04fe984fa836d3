"""A real pretrained BERT (MiniLM-L6, Hugging Face layout) fetched by ../shared/data/fetch.sh.

Our encoder equals transformers' on real sentences, and our WordPiece tokenizer built from its
`vocab.txt` gives transformers' ids. Skipped when the data cannot be fetched.
"""

import csv
import os

import numpy as np
import pytest

from albert_keras.convert import load_encoder, load_pretrained_tokenizer

NUM_SENTENCES = 400


@pytest.fixture(scope="module")
def minilm(shared_data):
    directory = os.path.join(shared_data, "minilm")
    if not os.path.isfile(os.path.join(directory, "model.safetensors")):
        pytest.skip(f"No MiniLM model in {directory}")
    return directory


@pytest.fixture(scope="module")
def sentences(shared_data):
    """Real English: Wikipedia sentences of the fetched uncertainty corpus, and some edge cases."""
    path = os.path.join(shared_data, "labeled", "uncertainty.csv")
    if not os.path.isfile(path):
        pytest.skip(f"No sentences at {path}")
    with open(path, encoding="utf-8-sig", newline="") as f:
        texts = [row[1] for row in csv.reader(f) if len(row) == 2]
    return texts[:NUM_SENTENCES] + [
        "Héllo, Wörld! Naïve café façades (déjà vu)...",
        "don't STOP-believing: 3.14 × 10^9",
        "  tabs\tand\nnewlines  ", "Ünïcödé ÀÉÎÕÜ résumé", "Wait… the ﬁrst one"]


def _reference_tokenizer(directory):
    """transformers' fast tokenizer from the model's own tokenizer.json (DESIGN.md's trap:
    `BertTokenizerFast(vocab_file=...)` maps everything to [UNK] in transformers 5)."""
    transformers = pytest.importorskip("transformers")
    tokenizer = transformers.BertTokenizerFast.from_pretrained(directory)
    tokenizer.backend_tokenizer.no_padding()
    tokenizer.backend_tokenizer.no_truncation()
    ids = tokenizer("the quick brown fox", add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id not in ids and len(set(ids)) == 4, ids  # real ids, not [UNK]
    return tokenizer


@pytest.mark.large
def test_wordpiece_ids_equal_transformers(minilm, sentences):
    reference = _reference_tokenizer(minilm)
    ours = load_pretrained_tokenizer(minilm)
    assert ours.vocabulary_size() == 30522
    expected = [reference(text, add_special_tokens=False)["input_ids"] for text in sentences]
    actual = [list(map(int, ids)) for ids in ours(sentences)]  # a list of id lists
    unknown = sum(ids.count(reference.unk_token_id) for ids in expected)
    assert unknown < 0.01 * sum(map(len, expected))  # the reference is a real tokenizer
    mismatches = [(text, a, e) for text, a, e in zip(sentences, actual, expected) if a != e]
    # Our WordPieceTokenizer lower-cases like BERT (plain lower(), no NFKC case folding as in
    # keras-hub's), so "…" and "ﬁ" tokenize the same on both sides: no difference is allowed.
    assert not mismatches, f"{len(mismatches)} of {len(sentences)} differ: {mismatches[:3]}"


@pytest.mark.large
def test_encoder_equals_transformers_on_real_sentences(minilm, sentences):
    import torch
    import transformers

    reference = _reference_tokenizer(minilm)
    batch = reference(sentences[:16], padding=True, return_tensors="pt")
    hf_model = transformers.BertModel.from_pretrained(minilm).eval()
    with torch.no_grad():
        expected = hf_model(**batch)

    encoder = load_encoder(minilm)
    config = encoder.encoder_config
    assert (config.num_layers, config.hidden_dim, config.num_heads, config.activation) == (
        6, 384, 12, "gelu")
    inputs = {"token_ids": batch["input_ids"].numpy().astype("int32"),
              "segment_ids": batch["token_type_ids"].numpy().astype("int32"),
              "padding_mask": batch["attention_mask"].numpy().astype("int32")}
    assert inputs["padding_mask"].min() == 0  # padding is part of the comparison
    outputs = encoder(inputs)
    np.testing.assert_allclose(outputs["sequence_output"], expected.last_hidden_state.numpy(),
                               atol=1e-4, rtol=0)
    np.testing.assert_allclose(outputs["pooled_output"], expected.pooler_output.numpy(),
                               atol=1e-4, rtol=0)


@pytest.mark.large
def test_written_back_as_hugging_face_it_is_the_same_model(minilm, sentences, tmp_path):
    """MiniLM imported, then written by `save_hugging_face`: transformers loads the directory
    and computes what it computes from the original, and its tokenizer gives the same ids."""
    import torch
    import transformers

    from albert_keras.convert.hugging_face_export import save_hugging_face

    directory = save_hugging_face(load_encoder(minilm), str(tmp_path / "minilm_out"),
                                  load_pretrained_tokenizer(minilm))
    original = _reference_tokenizer(minilm)
    written = transformers.AutoTokenizer.from_pretrained(directory)
    for text in sentences:
        assert written(text)["input_ids"] == original(text)["input_ids"], text
    batch = original(sentences[:16], padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = transformers.BertModel.from_pretrained(minilm).eval()(**batch)
        actual = transformers.BertModel.from_pretrained(directory).eval()(**batch)
    np.testing.assert_allclose(actual.last_hidden_state.numpy(),
                               expected.last_hidden_state.numpy(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(actual.pooler_output.numpy(), expected.pooler_output.numpy(),
                               atol=1e-6, rtol=0)
