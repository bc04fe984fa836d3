"""Export for TensorFlow Serving: versioned SavedModels that take raw text, and a client.

The `export` job that exports a pipeline's trained model (`export_pipeline`, `ExportConfig`)
lives one layer up, in `albert_keras.jobs`.
"""

from albert_keras.utils.lazy_exports import lazy_exports

__all__ = ["ServingClient", "export_for_serving", "read_models_config", "write_models_config",
           "SIGNATURE_NAMES"]
lazy_exports(__name__, {
    "ServingClient": ".client",
    "export_for_serving": ".export_for_serving",
    "read_models_config": ".models_config",
    "write_models_config": ".models_config",
    "SIGNATURE_NAMES": ".serving_signatures",
})
