"""`convert_out`: `albert-keras convert --to hf | keras-hub`, a model of ours into another format."""

from __future__ import annotations

import os

from albert_keras import tokenizers
from albert_keras.convert import pretrained
from albert_keras.convert.hugging_face_export import save_hugging_face
from albert_keras.convert.keras_hub_export import save_keras_hub_preset
from albert_keras.utils.published_run import check_tokenizer_matches
from albert_keras.utils.tokenizer_beside import tokenizer_beside

# --to value -> writer(model, directory, tokenizer, overwrite=...)
WRITERS = {"hf": save_hugging_face, "keras-hub": save_keras_hub_preset}


def convert_out(source: str, destination: str, to: str, task: str = "encoder",
                tokenizer: str | None = None, overwrite: bool = False) -> str:
    """Writes the model at `source` into the directory `destination` in format `to`.

    Args:
        source: str. A `.keras` model of ours (`Encoder` or `Pretrainer`), or any checkpoint
            `load_encoder` / `load_pretrainer` reads (then loaded as `task`).
        destination: str. The directory to write.
        to: str. `"hf"` (`save_hugging_face`) or `"keras-hub"` (`save_keras_hub_preset`).
        task: str. `"encoder"` or `"pretrainer"`, for a checkpoint source. Defaults to
            `"encoder"`.
        tokenizer: str or None. A tokenizer directory, `.model` or `vocab.txt`. Defaults to
            the `tokenizer/` directory beside a `.keras` source (the layout `pretrain` writes),
            else the checkpoint's own; none found writes the model alone. A `.keras` source's
            tokenizer must be the one it was trained with (`check_tokenizer_matches`).
        overwrite: bool. Replace an existing directory. Defaults to False (an error).

    Returns:
        `destination`.
    """
    if to not in WRITERS:
        raise ValueError(f"`to` must be one of {tuple(WRITERS)}. Received: to={to!r}")
    if source.endswith(".keras"):
        import keras

        if not os.path.isfile(source):
            raise FileNotFoundError(f"No model file at {source!r}")
        model = keras.saving.load_model(source, compile=False)
        beside = tokenizer_beside(source)
        found = tokenizer or (beside if os.path.isdir(beside) else None)
        loaded = tokenizers.load_tokenizer(found) if found else None
        if loaded is not None:  # Refuse a tokenizer the model was not trained with.
            size = getattr(getattr(model, "encoder", model), "vocabulary_size", None)
            fingerprint = (tokenizers.tokenizer_fingerprint(found) if os.path.isdir(found)
                           else None)
            check_tokenizer_matches(source, int(size) if isinstance(size, int) else None,
                                    found, int(loaded.vocabulary_size()), fingerprint)
    else:
        model = (pretrained.load_pretrainer(source) if task == "pretrainer"
                 else pretrained.load_encoder(source))
        try:
            loaded = (tokenizers.load_tokenizer(tokenizer) if tokenizer
                      else pretrained.load_pretrained_tokenizer(source))
        except FileNotFoundError:
            loaded = None
    return WRITERS[to](model, destination, loaded, overwrite=overwrite)
