"""Import checkpoints trained elsewhere: Hugging Face, original TF1 (google-research), keras-hub."""

from albert_keras.convert.pretrained import (
    checkpoint_format,
    convert,
    load_encoder,
    load_pretrained_tokenizer,
    load_pretrainer,
    open_checkpoint,
    save_pretrained_tokenizer,
)
from albert_keras.convert.weight_assignment import TensorName, WeightAssignment
