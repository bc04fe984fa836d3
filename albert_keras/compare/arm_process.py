"""The entry point of an arm's process: it first ties its life to its parent, then runs the arm.

Light on purpose (no TensorFlow at import): the spawned process imports this module, arms the
parent-death signal, and only then unpickles its work, which imports TensorFlow and may take
seconds. A `compare` killed with `kill -9` thus never leaves an arm training on as an orphan
(writing into `arms/<name>/` beside the rerun and skewing its timings).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid: int, poll_seconds: float = 1.0) -> str:
    """Ends this process when its parent `parent_pid` ends; returns how (`"prctl"` or
    `"watchdog"`).

    On Linux, `prctl(PR_SET_PDEATHSIG, SIGKILL)` has the kernel kill this process when its
    parent dies; elsewhere (or when prctl fails) a daemon thread polls the parent's id every
    `poll_seconds`. A parent that already died before the signal was armed ends it at once.
    """
    how = "watchdog"
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                how = "prctl"
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # Orphaned already: adopted by init or a subreaper.
        os._exit(1)
    if how == "watchdog":
        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(poll_seconds)
            os._exit(1)

        threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()
    return how


def run_in_child(function, args: tuple, name: str) -> int:
    """Calls `function(*args)` in a fresh (spawned) process that dies with this one, waits for
    it and returns its exit code. `function` must be importable by name (module level)."""
    payload = pickle.dumps((function, args))
    process = multiprocessing.get_context("spawn").Process(
        target=run_pickled, args=(os.getpid(), payload), name=name)
    process.start()
    process.join()
    return process.exitcode


def start_worker(parent_pid: int, threads: int) -> None:
    """The initializer of a pool's worker process: it dies with `parent_pid`, and TensorFlow
    uses `threads` threads for each op (set before anything builds a graph)."""
    die_with_parent(parent_pid)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def worker_pool(workers: int):
    """A pool of `workers` spawned processes that die with this one, sharing the CPU cores."""
    from concurrent.futures import ProcessPoolExecutor

    threads = max(1, (os.cpu_count() or 1) // workers)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=start_worker, initargs=(os.getpid(), threads))


def run_pickled(parent_pid: int, payload: bytes) -> None:
    """The target of an arm's process: `payload` is the pickled `(function, args)` to call,
    unpickled only once the process dies with `parent_pid`."""
    die_with_parent(parent_pid)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    function, args = pickle.loads(payload)
    function(*args)
