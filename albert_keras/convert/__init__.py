"""Import checkpoints trained elsewhere (Hugging Face, original TF1 from google-research,
keras-hub), and write models trained here as Hugging Face directories or keras-hub presets."""

from albert_keras.utils.lazy_exports import lazy_exports

__all__ = ["checkpoint_format", "convert", "convert_out", "load_encoder",
           "load_pretrained_tokenizer", "load_pretrainer", "load_pretrainer_where_present",
           "open_checkpoint", "save_hugging_face", "save_keras_hub_preset", "save_pretrained_tokenizer",
           "TensorName", "WeightAssignment"]
lazy_exports(__name__, {
    **dict.fromkeys(["checkpoint_format", "convert", "load_encoder", "load_pretrained_tokenizer",
                     "load_pretrainer", "load_pretrainer_where_present", "open_checkpoint",
                     "save_pretrained_tokenizer"],
                    ".pretrained"),
    "convert_out": ".formats_out",
    "save_hugging_face": ".hugging_face_export",
    "save_keras_hub_preset": ".keras_hub_export",
    **dict.fromkeys(["TensorName", "WeightAssignment"], ".weight_assignment"),
})
