import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Every test starts from the default dtype policy and a clean Keras session."""
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()
