"""Models trained here written as Hugging Face directories: transformers loads them and computes
our outputs (1e-5), and reading them back gives our weights exactly."""

import numpy as np
import pytest

from albert_keras import Encoder
from albert_keras.convert import load_encoder, load_pretrainer
from albert_keras.convert.hugging_face_export import save_hugging_face
from albert_keras.convert.model_weights import pretrainer_variables
from albert_keras.models import SpanExtractor, TextClassifier, TokenClassifier
from albert_keras.models.pretrainer import Pretrainer
from albert_keras.tasks.inputs.text_preprocessor import TextPreprocessor
from tests.helpers.convert_models import assert_close, torch_inputs
from tests.helpers import sentencepiece, wordpiece

ATOL = 1e-5
TEXTS = ["the quick brown fox jumps over the lazy dog", "a dog", ""]
TINY = dict(num_layers=4, num_heads=2, hidden_dim=16, intermediate_dim=32,
            max_sequence_length=16, dropout=0.0)
# (encoder fields, Hugging Face model): BERT; ALBERT with 2 groups; ALBERT sharing nothing.
CASES = {"bert": (dict(activation="gelu"), "Bert"),
         "albert": (dict(embedding_dim=8, share="all", num_groups=2), "Albert"),
         "albert_unshared": (dict(embedding_dim=8, activation="gelu"), "Albert")}


def _randomize(model, seed):
    """Every weight random (biases and LayerNorms too), so that no mix-up can hide."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(variable.shape)
        scale = 0.3 if len(shape) == 1 else 0.5
        offset = 1.0 if variable.path.endswith("gamma") else 0.0
        variable.assign(offset + scale * rng.standard_normal(shape).astype("float32"))


def _model(case, tokenizer, with_heads, seed=0):
    fields, _ = CASES[case]
    encoder = Encoder(vocabulary_size=tokenizer.vocabulary_size(), **TINY, **fields)
    model = Pretrainer(encoder, pair_task="nsp" if case == "bert" else "sop") if with_heads \
        else encoder
    _randomize(model, seed)
    return model


def _weights(pretrainer):
    return {key: np.asarray(variable.numpy())
            for key, variable in pretrainer_variables(pretrainer).items()}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("with_heads", [False, True], ids=["encoder", "pretrainer"])
def test_transformers_computes_our_outputs(case, with_heads, tmp_path):
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    tokenizer = wordpiece() if case == "bert" else sentencepiece()
    model = _model(case, tokenizer, with_heads)
    directory = save_hugging_face(model, str(tmp_path / "hf"), tokenizer)

    prefix = CASES[case][1]
    hf_class = getattr(transformers, f"{prefix}ForPreTraining" if with_heads else f"{prefix}Model")
    hf_model = hf_class.from_pretrained(directory).eval()
    inputs = {k: np.asarray(v) for k, v in TextPreprocessor(tokenizer, 16)(
        np.array(TEXTS[:2]), np.array(["over the dog", "the fox"])).items()}
    with torch.no_grad():
        reference = hf_model(**torch_inputs(inputs))
    if with_heads:
        length = inputs["token_ids"].shape[1]
        outputs = model({**inputs, "mask_positions": np.tile(np.arange(length, dtype="int32"),
                                                             (2, 1))})
        pair = reference.sop_logits if prefix == "Albert" else reference.seq_relationship_logits
        assert_close(outputs["mlm"], reference.prediction_logits.numpy(), ATOL, "mlm", rtol=1e-5)
        assert_close(outputs["pair"], pair.numpy(), ATOL, "pair")
    else:
        outputs = model(inputs)
        assert_close(outputs["sequence_output"], reference.last_hidden_state.numpy(), ATOL,
                     "sequence_output")
        assert_close(outputs["pooled_output"], reference.pooler_output.numpy(), ATOL,
                     "pooled_output")


@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip_gives_our_weights_exactly(case, tmp_path):
    pytest.importorskip("safetensors")
    tokenizer = wordpiece() if case == "bert" else sentencepiece()
    pretrainer = _model(case, tokenizer, with_heads=True, seed=3)
    directory = save_hugging_face(pretrainer, str(tmp_path / "hf"), tokenizer)
    back = load_pretrainer(directory)
    assert back.encoder.encoder_config.to_dict() == {
        **pretrainer.encoder.encoder_config.to_dict(),
        # Read back as ALBERT does: blocks in groups (a group per layer when nothing is shared).
        **({"share": "all", "num_groups": 4} if case == "albert_unshared" else {})}
    ours, theirs = _weights(pretrainer), _weights(back)
    assert sorted(ours) == sorted(theirs)
    for name, value in ours.items():
        np.testing.assert_array_equal(theirs[name], value, err_msg=name)
    encoder = load_encoder(directory)
    np.testing.assert_array_equal(encoder.token_embedding.embeddings.numpy(),
                                  ours["token_embedding/embeddings"])


@pytest.mark.parametrize("make_tokenizer", [wordpiece, sentencepiece])
def test_transformers_tokenizer_gives_our_ids(make_tokenizer, tmp_path):
    transformers = pytest.importorskip("transformers")
    tokenizer = make_tokenizer()
    case = "bert" if make_tokenizer is wordpiece else "albert"
    directory = save_hugging_face(_model(case, tokenizer, False), str(tmp_path / "hf"), tokenizer)
    reference = transformers.AutoTokenizer.from_pretrained(directory)
    ours = TextPreprocessor(tokenizer, 64)  # Long enough for every text: nothing cut.
    for text in TEXTS[:2]:
        x = ours(np.array([text]))
        length = int(np.asarray(x["padding_mask"]).sum())
        expected = reference(text)["input_ids"]
        assert np.asarray(x["token_ids"])[0, :length].tolist() == expected, text
        assert reference.unk_token_id not in expected


@pytest.mark.parametrize("fields, message", [
    (dict(share="attention"), "share='attention'"),
    (dict(share="ffn", embedding_dim=8), "share='ffn'"),
    (dict(share="all"), "embedding_dim=None"),
])
def test_models_hugging_face_cannot_hold_are_refused(fields, message, tmp_path):
    encoder = Encoder(vocabulary_size=30, **TINY, **fields)
    with pytest.raises(ValueError, match=message):
        save_hugging_face(encoder, str(tmp_path / "hf"))
    assert not (tmp_path / "hf").exists()  # Refused before anything is written.


def test_an_existing_directory_is_not_overwritten(tmp_path):
    encoder = Encoder(vocabulary_size=30, **TINY)
    (tmp_path / "hf").mkdir()
    with pytest.raises(FileExistsError, match="overwrite"):
        save_hugging_face(encoder, str(tmp_path / "hf"))
    save_hugging_face(encoder, str(tmp_path / "hf"), overwrite=True)
    assert (tmp_path / "hf" / "model.safetensors").is_file()


def test_cli_writes_a_keras_model_and_its_tokenizer(tmp_path):
    from albert_keras.cli import main
    from albert_keras.tokenizers.tokenizer_files import save_tokenizer

    tokenizer = sentencepiece()
    pretrainer = _model("albert", tokenizer, with_heads=True, seed=5)
    pretrainer.save(str(tmp_path / "pretrainer.keras"))
    save_tokenizer(tokenizer, str(tmp_path / "tokenizer"))
    assert main(["convert", "--to", "hf", str(tmp_path / "pretrainer.keras"),
                 str(tmp_path / "hf")]) == 0
    assert sorted(p.name for p in (tmp_path / "hf").iterdir()) == [
        "config.json", "model.safetensors", "special_tokens_map.json", "spiece.model",
        "tokenizer_config.json"]
    back = load_pretrainer(str(tmp_path / "hf"))
    np.testing.assert_array_equal(back.pair_head.kernel.numpy(), pretrainer.pair_head.kernel.numpy())
    # A model Hugging Face cannot hold: an error naming the field, exit code 2.
    Encoder(vocabulary_size=30, **TINY, share="ffn").save(str(tmp_path / "ffn.keras"))
    assert main(["convert", "--to", "hf", str(tmp_path / "ffn.keras"), str(tmp_path / "x")]) == 2


TASK_MODELS = {
    "ForSequenceClassification": lambda encoder: TextClassifier(
        encoder, labels=("neg", "pos", "neutral"), dropout=0.0),
    "ForTokenClassification": lambda encoder: TokenClassifier(encoder, labels=("N", "V"),
                                                              dropout=0.0),
    "ForQuestionAnswering": lambda encoder: SpanExtractor(encoder, max_answer_length=5),
}


@pytest.mark.parametrize("suffix", sorted(TASK_MODELS))
@pytest.mark.parametrize("case", ["bert", "albert"])
def test_fine_tuned_task_models_become_transformers_task_models(case, suffix, tmp_path):
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    tokenizer = wordpiece() if case == "bert" else sentencepiece()
    model = TASK_MODELS[suffix](_model(case, tokenizer, with_heads=False, seed=6))
    _randomize(model, 6)
    directory = save_hugging_face(model, str(tmp_path / "hf"), tokenizer)
    hf_model = getattr(transformers, CASES[case][1] + suffix).from_pretrained(directory).eval()
    x = {k: np.asarray(v) for k, v in TextPreprocessor(tokenizer, 16)(
        np.array(TEXTS[:2]), np.array(["over the dog", "the fox"])).items()}
    with torch.no_grad():
        reference = hf_model(**torch_inputs(x))
    ours = model(x)
    real = x["padding_mask"].astype(bool)
    if suffix == "ForQuestionAnswering":  # Ours masks padding with -1e9; compare real tokens.
        for name in ("start_logits", "end_logits"):
            assert_close(np.asarray(ours[name])[real], getattr(reference, name).numpy()[real],
                         ATOL, name)
    else:
        assert_close(ours, reference.logits.numpy(), ATOL, "logits")
    if suffix != "ForQuestionAnswering":
        assert hf_model.config.id2label == dict(enumerate(model.labels))


def test_mean_pooling_has_no_hugging_face_form(tmp_path):
    encoder = Encoder(vocabulary_size=30, **TINY)
    with pytest.raises(ValueError, match="pooling='mean'"):
        save_hugging_face(TextClassifier(encoder, num_classes=2, pooling="mean"),
                          str(tmp_path / "hf"))
