"""A stand-in for an arm's work, for the parent-death test: says it runs, then sleeps.

Not collected by pytest (no `test_` prefix); the test's parent process runs it in a child.
"""

import os
import time


def announce_and_sleep(path: str, seconds: float = 120.0) -> None:
    with open(path + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(path + ".tmp", path)
    time.sleep(seconds)


def worker_facts(index: int) -> tuple[int, int, int]:
    """`(index, parent pid, TensorFlow's threads per op)` as seen by a pool's worker."""
    import tensorflow as tf

    return index, os.getppid(), tf.config.threading.get_intra_op_parallelism_threads()
