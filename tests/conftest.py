import fcntl
import os
import subprocess
import tempfile

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


@pytest.fixture(scope="session")
def stdlib_documents():
    """The first 60 documents of the built-in corpus (the standard library's docstrings)."""
    from albert_keras.pretraining_data.corpus import read_documents

    return list(read_documents("stdlib", max_documents=60))


@pytest.fixture(scope="session")
def shared_data():
    """The directory `../shared/data/fetch.sh` fills with real data; skips when it cannot."""
    script = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "fetch.sh")
    if not os.path.isfile(script):
        pytest.skip(f"No data script at {script}")
    # pytest-xdist runs this fixture once per worker: a lock keeps two downloads from
    # writing the same files at once (the script is idempotent, so the second only checks).
    lock_path = os.path.join(tempfile.gettempdir(), "albert-keras-fetch.lock")
    try:
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            result = subprocess.run(["bash", script], capture_output=True, text=True,
                                    timeout=600, check=True)
    except (subprocess.SubprocessError, OSError) as error:
        pytest.skip(f"fetch.sh failed: {error}")
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def ram_dir():
    """A folder of TensorFlow's in-memory file system (`ram://`) of this test alone, removed
    after it: a stand-in for a bucket (`gs://`), with the same `tf.io.gfile` calls."""
    import uuid

    import tensorflow as tf

    path = f"ram://test-{uuid.uuid4().hex[:12]}"
    yield path
    if tf.io.gfile.exists(path):
        tf.io.gfile.rmtree(path)


# The suite's own profile (issue 27, item 7): time per test file, summed over its tests'
# setup, call and teardown, printed after every run so the slowest files are always in view.
# Under pytest-xdist the reports reach the controller, so this sees every worker's tests.
_FILE_SECONDS: dict[str, float] = {}
SLOWEST_FILES = 12


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    _FILE_SECONDS[path] = _FILE_SECONDS.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    if not _FILE_SECONDS:
        return
    total = sum(_FILE_SECONDS.values())
    terminalreporter.section(f"slowest {SLOWEST_FILES} test files (seconds summed over their "
                             f"tests; all files: {total:.0f} s)")
    for path, seconds in sorted(_FILE_SECONDS.items(), key=lambda item: -item[1])[:SLOWEST_FILES]:
        terminalreporter.write_line(f"{seconds:8.1f} s  {100 * seconds / total:4.1f}%  {path}")
