"""`Task`: what the fine-tuning models share — an `Encoder`, a head, and how they are saved."""

from __future__ import annotations


import keras
import tensorflow as tf

from albert_keras.models.dtype_copy import copy_with_dtype
from albert_keras.models.encoder import INPUT_NAMES, Encoder
from albert_keras.utils import file_io


class Task(keras.Model):
    """Base of `TextClassifier`, `TokenClassifier`, `SpanExtractor` and `Pretrainer`.

    A task is a functional model over `encoder`: the same int32 inputs `token_ids`,
    `segment_ids` and `padding_mask`, and float32 logits out. Its config holds the serialized
    encoder, so a `.keras` file rebuilds the whole model; subclasses add their own arguments
    in `get_config`. It also carries two fixes that Keras 3 needs to `fit` a dict-input model
    under `MultiWorkerMirroredStrategy`.
    """

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        results = super().compute_metrics(x, y, y_pred, sample_weight)
        if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            # Keras averages per-replica logs across workers with `reduce("MEAN", axis=0)`,
            # which fails on scalars: hand it shape-(1,) values (the mean is a scalar again).
            results = {name: keras.ops.reshape(value, (1,)) for name, value in results.items()}
        return results

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras 3 builds from a first distributed batch merged with `strategy.reduce`, which
        # fails for dict batches under MultiWorkerMirroredStrategy (keras-team/keras#20585).
        # Shapes are all it needs: build from the first replica's share instead.
        if iterator is not None and self._distribute_strategy is not None:
            for _, _, batches in iterator:
                data_batch = keras.tree.map_structure(_first_replica, next(batches))
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def get_config(self):
        return {"encoder": keras.saving.serialize_keras_object(self.encoder),
                "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)

    @classmethod
    def from_pretrained(cls, path: str, **kwargs) -> "Task":
        """A new head over an encoder trained elsewhere.

        Args:
            path: str. A `.keras` file holding an `Encoder` (or a model with an `.encoder`, such
                as a `Pretrainer` or another task), or anything `albert_keras.convert.load_encoder`
                accepts: a Hugging Face directory, a TF1 checkpoint, a keras-hub preset.
            **kwargs: the task's other arguments, e.g. `num_classes=3`.
        """
        return cls(load_pretrained_encoder(path), **kwargs)


def load_pretrained_encoder(path: str) -> keras.Model:
    """The `Encoder` stored at `path` (see `Task.from_pretrained`)."""
    if str(path).endswith(".keras"):
        if not file_io.isfile(path):
            raise FileNotFoundError(f"Encoder file not found: path={path!r}")
        from albert_keras.models import Encoder  # noqa: F401  (registers every model class)

        model = keras.saving.load_model(path, compile=False)
        encoder = getattr(model, "encoder", model)
        if not all(name in input_names(encoder) for name in INPUT_NAMES):
            raise ValueError(f"{path} does not hold an encoder with inputs {INPUT_NAMES}. "
                             f"Received a {type(model).__name__}")
        return encoder
    from albert_keras.convert import load_encoder  # Deferred: converters are optional.

    return load_encoder(path)


def make_encoder(model_config, tokenizer, dtype: str | None = None) -> keras.Model:
    """The encoder a pipeline's `model` section names, for the ids of `tokenizer`.

    Args:
        model_config: `ModelConfig`. Its `pretrained` checkpoint (`load_pretrained_encoder`),
            else a fresh `Encoder` of its preset and fields with the tokenizer's vocabulary size.
        tokenizer: keras-hub tokenizer. Its ids must fit the encoder (`check_vocabulary`).
        dtype: str or None. The dtype policy to compute in. Defaults to None (float32).
    """
    if model_config.pretrained:
        encoder = copy_with_dtype(load_pretrained_encoder(model_config.pretrained), dtype)
    else:
        fields = model_config.encoder_config(vocabulary_size=int(tokenizer.vocabulary_size()))
        encoder = Encoder(**fields.to_dict(), dtype=dtype)
    check_vocabulary(encoder, tokenizer, model_config.pretrained)
    return encoder


def check_vocabulary(encoder: keras.Model, tokenizer, pretrained: str | None = None) -> None:
    """Raises `ValueError` when `tokenizer` has ids past `encoder`'s vocabulary, naming the
    checkpoint `pretrained` it came from (if any)."""
    if encoder.vocabulary_size < tokenizer.vocabulary_size():
        source = f"model.pretrained={pretrained!r}" if pretrained else "the encoder"
        raise ValueError(
            f"The tokenizer has {tokenizer.vocabulary_size()} tokens but {source} only "
            f"vocabulary_size={encoder.vocabulary_size}: use the tokenizer the encoder was "
            "trained with (for pretraining records, leave data.tokenizer_path unset).")


def encoder_inputs() -> dict:
    """Fresh symbolic inputs for a task model: int32 `(batch, seq)` each."""
    return {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in INPUT_NAMES}


def _first_replica(value):
    if isinstance(value, tf.distribute.DistributedValues):
        return value.values[0]
    return value


def input_names(model) -> list[str]:
    """The names of a functional model's dict inputs; `[]` for a model without them (a
    subclassed or unbuilt model, or one with positional inputs)."""
    try:
        inputs = model.input
    except (AttributeError, ValueError):  # Keras raises either for a model with no input.
        return []
    return list(inputs) if isinstance(inputs, dict) else []


def resolve_classes(num_classes: int | None, labels) -> tuple[int, tuple[str, ...] | None]:
    """`(num_classes, labels)` from either argument; they must agree when both are given."""
    if labels is not None:
        labels = tuple(str(label) for label in labels)
        if len(set(labels)) != len(labels) or not labels:
            raise ValueError(f"`labels` must be distinct names, at least one. Received: labels={labels}")
        if num_classes is not None and num_classes != len(labels):
            raise ValueError("`num_classes` must equal len(labels). "
                             f"Received: num_classes={num_classes}, {len(labels)} labels")
        num_classes = len(labels)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"`num_classes` must be a positive integer. Received: num_classes={num_classes!r}")
    return num_classes, labels
