"""Export for TensorFlow Serving: versioned SavedModels that take raw text, and a client."""

from albert_keras.utils.lazy_exports import lazy_exports

__all__ = ["ServingClient", "ExportConfig", "export_for_serving", "export_pipeline",
           "read_models_config", "write_models_config", "SIGNATURE_NAMES"]
lazy_exports(__name__, {
    "ServingClient": ".client",
    "ExportConfig": ".export_config",
    "export_for_serving": ".export_for_serving",
    "export_pipeline": ".export_pipeline",
    "read_models_config": ".models_config",
    "write_models_config": ".models_config",
    "SIGNATURE_NAMES": ".serving_signatures",
})
