"""Fine-tuning tasks, one module each: reader, preprocessor, model, compile settings, decoding
and serving outputs of text classification, token classification and span extraction. The
inputs they share (labelled files, the TF-op text preprocessor, batches) are in `inputs/`."""

from albert_keras.utils.lazy_exports import lazy_exports

__all__ = ["FineTuningTask", "ServingSettings", "SpanExtraction", "TASKS", "TextClassification",
           "TokenClassification", "read_examples", "task_named", "task_of_model"]
lazy_exports(__name__, {
    "FineTuningTask": ".fine_tuning_task",
    "ServingSettings": ".serving_settings",
    **dict.fromkeys(["TASKS", "read_examples", "task_named", "task_of_model"], ".registry"),
    "SpanExtraction": ".span_extraction",
    "TextClassification": ".text_classification",
    "TokenClassification": ".token_classification",
})
