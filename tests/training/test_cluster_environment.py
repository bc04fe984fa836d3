"""`cluster_environment`: each scheduler's variables -> the TF_CONFIG of the task, and errors."""

import json
import os

import pytest
import tensorflow as tf

from albert_keras.training import cluster_environment as module
from albert_keras.training.cluster_environment import cluster_environment
from albert_keras.training.strategy import make_strategy

SCHEDULER_VARIABLES = ("TF_CONFIG", "CLUSTER_SPEC", "JOBSET_NAME", "JOB_COMPLETION_INDEX",
                       "SLURM_PROCID", "TPU_NAME", "TPU_ACCELERATOR_TYPE")


@pytest.fixture
def env(monkeypatch):
    """Sets the given variables on a clean slate (no scheduler variable of this machine)."""
    for name in list(os.environ):
        if name.startswith(("SLURM_", "ALBERT_KERAS_", "JOB", "REPLICATED_JOB", "TPU_")) \
                or name in SCHEDULER_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.setattr(module.os.path, "exists", lambda path: False)  # No /dev/accel0.

    def set_env(**variables):
        for name, value in variables.items():
            monkeypatch.setenv(name, str(value))

    return set_env


def test_tf_config_is_used_as_given(env):
    config = {"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]},
              "task": {"type": "worker", "index": 1}, "environment": "cloud"}
    env(TF_CONFIG=json.dumps(config), JOB_COMPLETION_INDEX=0)  # TF_CONFIG wins.
    found = cluster_environment()
    assert found.scheduler == "tf_config"
    assert found.tf_config() == {"cluster": config["cluster"], "task": config["task"]}
    assert (found.num_workers, found.is_chief) == (3, False)
    resolver = found.cluster_resolver()
    assert isinstance(resolver, tf.distribute.cluster_resolver.TFConfigClusterResolver)
    assert resolver.cluster_spec().as_dict() == config["cluster"]


@pytest.mark.parametrize("index", [0, 2])
def test_kubernetes_indexed_job_names_pods_by_index(env, index):
    env(JOB_COMPLETION_INDEX=index, ALBERT_KERAS_NUM_WORKERS=3, ALBERT_KERAS_SERVICE="workers",
        ALBERT_KERAS_JOB_NAME="pretrain")
    found = cluster_environment()
    assert found.scheduler == "kubernetes_indexed_job"
    assert found.tf_config() == {
        "cluster": {"worker": ["pretrain-0.workers:2222", "pretrain-1.workers:2222",
                               "pretrain-2.workers:2222"]},
        "task": {"type": "worker", "index": index}}
    assert found.is_chief == (index == 0)
    resolver = found.cluster_resolver()
    assert (resolver.task_type, resolver.task_id) == ("worker", index)
    assert resolver.cluster_spec().as_dict() == found.cluster


def test_kubernetes_indexed_job_takes_the_job_name_from_the_hostname_and_a_port(env):
    env(JOB_COMPLETION_INDEX=1, ALBERT_KERAS_NUM_WORKERS=2, ALBERT_KERAS_SERVICE="svc",
        HOSTNAME="albert-1", ALBERT_KERAS_PORT=5000)
    assert cluster_environment().cluster == {"worker": ["albert-0.svc:5000", "albert-1.svc:5000"]}


def test_explicit_worker_hosts_replace_the_dns_names(env):
    env(JOB_COMPLETION_INDEX=1, ALBERT_KERAS_NUM_WORKERS=2,
        ALBERT_KERAS_WORKER_HOSTS="127.0.0.1:4001, 127.0.0.1:4002")
    found = cluster_environment()
    assert found.tf_config() == {"cluster": {"worker": ["127.0.0.1:4001", "127.0.0.1:4002"]},
                                 "task": {"type": "worker", "index": 1}}


@pytest.mark.parametrize("variables, message", [
    (dict(JOB_COMPLETION_INDEX=0, ALBERT_KERAS_SERVICE="s", ALBERT_KERAS_JOB_NAME="j"),
     "ALBERT_KERAS_NUM_WORKERS unset"),
    (dict(JOB_COMPLETION_INDEX=2, ALBERT_KERAS_NUM_WORKERS=2, ALBERT_KERAS_SERVICE="s",
          ALBERT_KERAS_JOB_NAME="j"),
     r"< ALBERT_KERAS_NUM_WORKERS=2. Received: JOB_COMPLETION_INDEX='2'"),
    (dict(JOB_COMPLETION_INDEX="x", ALBERT_KERAS_NUM_WORKERS=2),
     "Received: JOB_COMPLETION_INDEX='x'"),
    (dict(JOB_COMPLETION_INDEX=0, ALBERT_KERAS_NUM_WORKERS=2, ALBERT_KERAS_JOB_NAME="j"),
     "ALBERT_KERAS_SERVICE unset"),
    (dict(JOB_COMPLETION_INDEX=0, ALBERT_KERAS_NUM_WORKERS=2, ALBERT_KERAS_SERVICE="Bad_Name",
          ALBERT_KERAS_JOB_NAME="j"),
     "Received: ALBERT_KERAS_SERVICE='Bad_Name'"),
    (dict(JOB_COMPLETION_INDEX=0, ALBERT_KERAS_NUM_WORKERS=2, ALBERT_KERAS_SERVICE="s",
          HOSTNAME="laptop"),
     "ALBERT_KERAS_JOB_NAME unset, HOSTNAME='laptop'"),
    (dict(JOB_COMPLETION_INDEX=0, ALBERT_KERAS_NUM_WORKERS=2, ALBERT_KERAS_SERVICE="s",
          ALBERT_KERAS_JOB_NAME="j", ALBERT_KERAS_PORT="0"),
     "Received: ALBERT_KERAS_PORT='0'"),
    (dict(JOB_COMPLETION_INDEX=0, ALBERT_KERAS_NUM_WORKERS=2,
          ALBERT_KERAS_WORKER_HOSTS="127.0.0.1:1"),
     "must list 2 `host:port`.*Received: ALBERT_KERAS_WORKER_HOSTS='127.0.0.1:1'"),
])
def test_kubernetes_indexed_job_errors_name_the_variable_and_value(env, variables, message):
    env(**variables)
    with pytest.raises(ValueError, match=message):
        cluster_environment()


def test_jobset_numbers_workers_over_jobs_and_pods(env):
    env(JOBSET_NAME="albert", REPLICATED_JOB_NAME="workers", REPLICATED_JOB_REPLICAS=2,
        ALBERT_KERAS_PODS_PER_JOB=2, JOB_INDEX=1, JOB_COMPLETION_INDEX=1)
    found = cluster_environment()
    assert found.scheduler == "kubernetes_jobset"
    assert found.tf_config() == {
        "cluster": {"worker": ["albert-workers-0-0.albert:2222", "albert-workers-0-1.albert:2222",
                               "albert-workers-1-0.albert:2222",
                               "albert-workers-1-1.albert:2222"]},
        "task": {"type": "worker", "index": 3}}
    assert not found.is_chief


def test_jobset_errors_name_the_variable_and_value(env):
    env(JOBSET_NAME="albert", REPLICATED_JOB_NAME="workers", REPLICATED_JOB_REPLICAS=2,
        JOB_INDEX=2, JOB_COMPLETION_INDEX=0)
    with pytest.raises(ValueError, match="< REPLICATED_JOB_REPLICAS=2. Received: JOB_INDEX='2'"):
        cluster_environment()
    env(JOB_INDEX=0, JOB_COMPLETION_INDEX=1)  # One pod per Job unless said otherwise.
    with pytest.raises(ValueError, match="Received: JOB_COMPLETION_INDEX='1'"):
        cluster_environment()


def test_vertex_ai_cluster_spec_maps_worker_pools_to_chief_and_workers(env):
    spec = {"cluster": {"workerpool0": ["cmle-0:2222"],
                        "workerpool1": ["cmle-w0:2222", "cmle-w1:2222"]},
            "environment": "cloud", "task": {"type": "workerpool1", "index": 0}}
    env(CLUSTER_SPEC=json.dumps(spec))
    found = cluster_environment()
    assert found.scheduler == "vertex_ai"
    assert found.tf_config() == {
        "cluster": {"chief": ["cmle-0:2222"], "worker": ["cmle-w0:2222", "cmle-w1:2222"]},
        "task": {"type": "worker", "index": 0}}
    assert (found.num_workers, found.is_chief) == (3, False)


def test_vertex_ai_chief_and_parameter_servers(env):
    spec = {"cluster": {"workerpool0": ["c:1"]}, "task": {"type": "workerpool0", "index": 0}}
    env(CLUSTER_SPEC=json.dumps(spec))
    assert cluster_environment().is_chief
    spec["cluster"]["workerpool2"] = ["ps:1"]
    env(CLUSTER_SPEC=json.dumps(spec))
    with pytest.raises(ValueError, match=r"leave out \['ps'\].*Received: CLUSTER_SPEC="):
        cluster_environment()
    env(CLUSTER_SPEC="{not json")
    with pytest.raises(ValueError, match="`CLUSTER_SPEC` is not valid JSON.*Received"):
        cluster_environment()


@pytest.mark.parametrize("config, message", [
    ({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}},
     "index=1"),
    ({"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}},
     "task type='chief'"),
    ({"cluster": {"worker": ["a:1"], "ps": ["b:1"]}, "task": {"type": "worker", "index": 0}},
     r"leave out \['ps'\]"),
    ({"task": {"type": "worker", "index": 0}}, "`cluster` mapping"),
])
def test_bad_tf_config_is_reported_with_its_value(env, config, message):
    env(TF_CONFIG=json.dumps(config))
    with pytest.raises(ValueError, match=message) as error:
        cluster_environment()
    assert "Received: " in str(error.value) and "TF_CONFIG=" in str(error.value)


def test_slurm_step_resolved_by_tensorflows_resolver(env):
    env(SLURM_PROCID=3, SLURM_STEP_NUM_TASKS=4, SLURM_STEP_NODELIST="node[01-02],gpu7",
        SLURM_STEP_TASKS_PER_NODE="1(x2),2", ALBERT_KERAS_PORT=7000,
        CUDA_VISIBLE_DEVICES="0,1")
    found = cluster_environment()
    assert found.scheduler == "slurm"
    # Hosts sorted by name; a node with 2 tasks gets 2 ports.
    assert found.tf_config() == {
        "cluster": {"worker": ["gpu7:7000", "gpu7:7001", "node01:7000", "node02:7000"]},
        "task": {"type": "worker", "index": 3}}
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1"  # Each task keeps its node's GPUs.


def test_slurm_outside_a_step_and_bad_values(env):
    env(SLURM_PROCID=0)  # sbatch without srun.
    with pytest.raises(ValueError, match="SLURM_STEP_NUM_TASKS.*under `srun`.*"
                                         "SLURM_STEP_NUM_TASKS unset"):
        cluster_environment()
    env(SLURM_STEP_NUM_TASKS=3, SLURM_STEP_NODELIST="node[01-02]",
        SLURM_STEP_TASKS_PER_NODE="1(x2)")
    with pytest.raises(ValueError, match="SLURM_STEP_NUM_TASKS='3'"):  # 3 tasks on 2 slots.
        cluster_environment()


def test_tpu_vm_is_told_to_use_the_tpu_strategy(env):
    env(TPU_NAME="local")
    found = cluster_environment()
    assert (found.scheduler, found.strategy, found.cluster) == ("tpu_vm", "tpu", {})
    with pytest.raises(ValueError, match="train.strategy='tpu'"):
        make_strategy("multi_worker")


def test_nothing_set_names_every_variable_looked_for(env):
    with pytest.raises(ValueError, match="none of TF_CONFIG, CLUSTER_SPEC, JOBSET_NAME, "
                                         "JOB_COMPLETION_INDEX, SLURM_PROCID is set"):
        make_strategy("multi_worker")


def test_tpu_address_names_the_local_tpu_on_a_tpu_vm(env, monkeypatch):
    assert module.tpu_address() == ""  # No TPU here: the resolver's own lookup.
    env(TPU_ACCELERATOR_TYPE="v5litepod-8")  # A TPU VM (also Colab's TPU runtime).
    assert module.tpu_address() == "local"
    env(TPU_NAME="my-tpu")
    assert module.tpu_address() == "my-tpu"
    monkeypatch.delenv("TPU_ACCELERATOR_TYPE")
    monkeypatch.delenv("TPU_NAME")
    monkeypatch.setattr(module.os.path, "exists", lambda path: path == "/dev/accel0")
    assert module.tpu_address() == "local"
