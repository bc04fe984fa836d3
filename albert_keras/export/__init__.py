"""Export for TensorFlow Serving: versioned SavedModels that take raw text, and a client."""

from albert_keras.export.client import ServingClient
from albert_keras.export.export_config import ExportConfig
from albert_keras.export.export_for_serving import export_for_serving
from albert_keras.export.export_pipeline import export_pipeline
from albert_keras.export.models_config import read_models_config, write_models_config
from albert_keras.export.serving_signatures import SIGNATURE_NAMES
