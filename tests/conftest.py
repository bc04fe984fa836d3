import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _default_dtype_policy():
    """Every test starts from the default dtype policy.

    No `clear_session()` here: it drops TensorFlow resources that tokenizers made earlier in
    the process (SentencePiece ops), which module-scoped fixtures still hold.
    """
    yield
    keras.config.set_dtype_policy("float32")
