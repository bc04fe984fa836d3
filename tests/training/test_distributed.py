"""tf.distribute: MirroredStrategy == one device, a real 2-worker run, resume after SIGKILL."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import free_ports

WORKER = os.path.join(os.path.dirname(__file__), "..", "helpers", "distributed_worker.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _env(**extra):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _run(*args, timeout=300, env=None):
    return subprocess.run([sys.executable, WORKER, *map(str, args)], env=env or _env(),
                          capture_output=True, text=True, timeout=timeout)


def _weights(path):
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.large
def test_mirrored_two_cpus_equals_default_strategy(tmp_path):
    out = tmp_path / "mirrored.json"
    result = _run("mirrored", out)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads(out.read_text())
    assert (runs["default"]["replicas"], runs["mirrored"]["replicas"]) == (1, 2)
    for key, values in runs["default"]["history"].items():
        np.testing.assert_allclose(runs["mirrored"]["history"][key], values, rtol=1e-5, err_msg=key)
    for key, value in runs["default"]["weights"].items():
        np.testing.assert_allclose(runs["mirrored"]["weights"][key], value, atol=1e-5, err_msg=key)
    # Accumulated over 2 micro-batches on each of 2 replicas: the one-device, one-batch run.
    reference, accumulated = runs["default_eps1"], runs["mirrored_accumulated"]
    np.testing.assert_allclose(accumulated["history"]["loss"], reference["history"]["loss"],
                               rtol=1e-5)
    for key, value in reference["weights"].items():
        np.testing.assert_allclose(accumulated["weights"][key], value, atol=1e-6, err_msg=key)


@pytest.mark.large
def test_mirrored_trains_on_length_buckets_with_a_shape_per_replica(tmp_path):
    from tests.helpers import write_varied_length_records

    records = write_varied_length_records(tmp_path / "records", sequence_length=16,
                                          vocabulary_size=64)
    out = tmp_path / "buckets.json"
    result = _run("mirrored_buckets", records, out)
    assert result.returncode == 0, result.stderr[-3000:]
    run = json.loads(out.read_text())
    assert all(len(step) == 2 for step in run["widths"])
    assert any(a != b for a, b in run["widths"]), run["widths"]  # Replicas differ in a step.
    assert len(run["loss"]) == 1 and np.isfinite(run["loss"][0])
    assert run["replicas_equal"]


@pytest.mark.large
@pytest.mark.parametrize("mode", ["multi_worker", "multi_worker_accumulated",
                                  "multi_worker_finetune"])
def test_two_worker_multi_worker_mirrored_ends_with_identical_weights(tmp_path, mode):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes, outputs = [], []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        outputs.append(tmp_path / f"worker{index}.npz")
        processes.append(subprocess.Popen(
            [sys.executable, WORKER, mode, str(outputs[-1])],
            env=_env(TF_CONFIG=json.dumps(config)), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
    logs = []
    for process in processes:
        try:
            _, stderr = process.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            for p in processes:
                p.kill()
            raise
        logs.append(stderr)
        assert process.returncode == 0, stderr[-3000:]
    first, second = (_weights(path) for path in outputs)
    assert int(first["replicas"]) == int(second["replicas"]) == 2
    assert float(first["moved"]) > 1e-4  # Training changed the weights...
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)  # ...identically.


@pytest.mark.large
def test_resume_after_sigkill_at_epoch_boundary_matches_uninterrupted_run(tmp_path):
    uninterrupted = _run("resume", tmp_path / "run_a", tmp_path / "a.npz")
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]

    killed = _run("resume", tmp_path / "run_b", tmp_path / "unused.npz", 2)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    backup = tmp_path / "run_b" / "backup" / "epoch-00002"
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 2

    resumed = _run("resume", tmp_path / "run_b", tmp_path / "b.npz")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = _weights(tmp_path / "a.npz"), _weights(tmp_path / "b.npz")
    assert int(a["steps_run"]) == 6
    assert int(b["steps_run"]) == 2  # Only the last epoch was trained again.
    assert int(b["iterations"]) == int(a["iterations"]) == 6  # Optimizer state restored.
    for key in a:
        if key not in ("steps_run", "iterations"):
            np.testing.assert_allclose(b[key], a[key], rtol=1e-5, atol=1e-6, err_msg=key)
