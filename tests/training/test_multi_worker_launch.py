"""2 workers launched as the container launches them: the `albert-keras` entrypoint, under the
environment of a Kubernetes Indexed Job pod (deploy/kubernetes/indexed-job.yaml), no TF_CONFIG."""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from tests.helpers.deploy_manifests import ROOT, indexed_job_pod_env
from tests.helpers import free_ports, tiny_pretraining_config


def _entrypoint():
    """The console script the Dockerfile's ENTRYPOINT names, or its module."""
    script = os.path.join(os.path.dirname(sys.executable), "albert-keras")
    return [script] if os.path.isfile(script) else [sys.executable, "-m", "albert_keras.cli"]


@pytest.mark.large
def test_two_indexed_job_workers_train_alike_and_leave_one_set_of_outputs(tmp_path):
    from albert_keras.pipeline import pipeline_from_dict
    from albert_keras.pretraining_data.prepare import prepare

    config = tiny_pretraining_config(tmp_path, strategy="multi_worker", eval_batches=1,
                                     precision="float32")
    prepare(pipeline_from_dict(config), progress=False)  # Once, before the workers start.
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(config))
    hosts = ",".join(f"127.0.0.1:{port}" for port in free_ports(2))
    processes, temporary = [], []
    for index in range(2):
        env = {name: value for name, value in os.environ.items()
               if name not in ("TF_CONFIG", "CLUSTER_SPEC", "JOBSET_NAME")
               and not name.startswith("SLURM_")}
        temporary.append(tmp_path / f"tmp-{index}")  # Each worker's temporary folder.
        temporary[-1].mkdir()
        env.update(indexed_job_pod_env(index), TMPDIR=str(temporary[-1]),
                   ALBERT_KERAS_WORKER_HOSTS=hosts,  # One machine: ports, not pod DNS names.
                   TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
        processes.append(subprocess.Popen(
            [*_entrypoint(), "pretrain", "--config", str(config_path)], env=env, cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = []
    for process in processes:
        try:
            stdout, stderr = process.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            for p in processes:
                p.kill()
            raise
        assert process.returncode == 0, stderr[-3000:]
        outputs.append(stdout)

    digests = [re.search(rf"\[pretrain\] worker {i}: weights sha256 (\w+)", out).group(1)
               for i, out in enumerate(outputs)]
    assert digests[0] == digests[1]  # Both workers ended with the same weights.
    assert "kubernetes_indexed_job: worker 1 of 2" in outputs[1]
    run = tmp_path / "runs" / "tiny"
    expected = {".published", "checkpoints", "encoder.keras", "initial_scores.json",
                "pretrainer.keras", "summary.json", "tokenizer"}
    assert set(os.listdir(run)) - {"logs"} == expected  # No backups, no second copy.
    assert sorted(os.listdir(run / "checkpoints")) == ["epoch-001.weights.h5",
                                                       "epoch-002.weights.h5"]
    assert sorted(os.listdir(tmp_path)) == ["records", "runs", "tiny.yaml", "tmp-0", "tmp-1"]
    assert [os.listdir(path) for path in temporary] == [[], []]  # Worker copies deleted.
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["replicas"], summary["status"]) == (2, "completed")
    assert summary["weights_sha256"] == digests[0]
    assert "MLM loss" in outputs[0] and "MLM loss" not in outputs[1]  # The chief reports.

    import keras

    from albert_keras.jobs.pretrain_report import weights_digest

    saved = keras.saving.load_model(run / "pretrainer.keras", compile=False)
    assert weights_digest(saved) == digests[0]  # The chief saved the weights both trained.
