"""Import checkpoints trained elsewhere: Hugging Face, original TF1 (google-research), keras-hub."""

from albert_keras.utils.lazy_exports import lazy_exports

__all__ = ["checkpoint_format", "convert", "load_encoder", "load_pretrained_tokenizer",
           "load_pretrainer", "open_checkpoint", "save_pretrained_tokenizer", "TensorName",
           "WeightAssignment"]
lazy_exports(__name__, {
    **dict.fromkeys(["checkpoint_format", "convert", "load_encoder", "load_pretrained_tokenizer",
                     "load_pretrainer", "open_checkpoint", "save_pretrained_tokenizer"],
                    ".pretrained"),
    **dict.fromkeys(["TensorName", "WeightAssignment"], ".weight_assignment"),
})
