"""`ClusterEnvironment`: a scheduler's environment variables -> the cluster of a multi-worker run.

`cluster_environment()` reads the variables a scheduler gives each task and returns the cluster
(addresses of every worker), this task's place in it, and the strategy to use. It looks, in
order, for:

- `TF_CONFIG`, from any launcher (Vertex AI sets it too, with `chief` and `worker` tasks):
  TensorFlow's `TFConfigClusterResolver`.
- Vertex AI's `CLUSTER_SPEC` (`workerpool0` = the chief, `workerpool1` = the workers).
- Kubernetes JobSet: `JOBSET_NAME`, `REPLICATED_JOB_NAME`, `REPLICATED_JOB_REPLICAS`,
  `JOB_INDEX` (JobSet's pod labels, passed as env by the manifest), `JOB_COMPLETION_INDEX`.
- Kubernetes Indexed Job: `JOB_COMPLETION_INDEX`, `ALBERT_KERAS_NUM_WORKERS`,
  `ALBERT_KERAS_SERVICE`, `ALBERT_KERAS_JOB_NAME` (or `HOSTNAME`, which is `<job>-<index>`).
- Slurm (`srun`): `SLURM_PROCID`, `SLURM_STEP_NUM_TASKS`, `SLURM_STEP_NODELIST`,
  `SLURM_STEP_TASKS_PER_NODE`, through TensorFlow's `SlurmClusterResolver`.
- Cloud TPU VM: `TPU_NAME`, `TPU_ACCELERATOR_TYPE` or `/dev/accel0`: no worker cluster; the
  `tpu` strategy (`TPUClusterResolver`) is the one to use.

Kubernetes gives pods a DNS name but no cluster description, so the manifests in `deploy/` pass
the rest: `ALBERT_KERAS_NUM_WORKERS` (= the Job's `completions`), `ALBERT_KERAS_SERVICE` (the
headless Service, = the pods' `subdomain`), and optionally `ALBERT_KERAS_PORT` (default 2222),
`ALBERT_KERAS_PODS_PER_JOB` (JobSet, = `completions`, default 1) and `ALBERT_KERAS_WORKER_HOSTS`
(comma-separated `host:port` of every worker, in index order: replaces the derived DNS names,
e.g. to run the workers of one machine on different ports).
"""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf

from albert_keras.training.scheduler_variables import (DEFAULT_PORT, cluster_and_task,
                                                       indexed_job_workers, integer_variable,
                                                       jobset_workers)

# Vertex AI's worker pools, in `workerPoolSpecs` order, as TensorFlow task types.
VERTEX_POOLS = {"workerpool0": "chief", "workerpool1": "worker", "workerpool2": "ps",
                "workerpool3": "evaluator"}
TRAINING_TASKS = ("chief", "worker")  # What MultiWorkerMirroredStrategy runs.


@dataclasses.dataclass(frozen=True)
class ClusterEnvironment:
    """The cluster of a run and this task's place in it, as a scheduler described them.

    Args:
        scheduler: str. Where it came from: `tf_config`, `vertex_ai`, `kubernetes_jobset`,
            `kubernetes_indexed_job`, `slurm` or `tpu_vm`.
        strategy: str. The `train.strategy` that runs on it: `multi_worker`, or `tpu` on a
            TPU VM.
        cluster: dict of str to list of str. Task type -> `host:port` of each task (the
            `cluster` of `TF_CONFIG`); empty on a TPU VM (the TPU runtime knows its hosts).
        task_type: str or None. This task's type (`chief` or `worker`).
        task_index: int or None. This task's index among its type.

    Example:
    ```python
    # needs: a scheduler's environment (Kubernetes Indexed Job, Slurm, Vertex AI, ...)
    environment = cluster_environment()
    print(environment.scheduler, environment.tf_config())
    strategy = tf.distribute.MultiWorkerMirroredStrategy(
        cluster_resolver=environment.cluster_resolver())
    ```
    """

    scheduler: str
    strategy: str
    cluster: dict[str, list[str]]
    task_type: str | None = None
    task_index: int | None = None

    @property
    def num_workers(self) -> int:
        """Tasks that train (chief and workers)."""
        return sum(len(self.cluster.get(kind, [])) for kind in TRAINING_TASKS)

    @property
    def is_chief(self) -> bool:
        """Whether this task writes the run's outputs: the chief, or worker 0 without one."""
        if self.task_type == "chief":
            return True
        return (self.task_type == "worker" and self.task_index == 0
                and "chief" not in self.cluster)

    def tf_config(self) -> dict:
        """The `TF_CONFIG` of this task (`{"cluster": ..., "task": {"type", "index"}}`)."""
        return {"cluster": {k: list(v) for k, v in self.cluster.items()},
                "task": {"type": self.task_type, "index": self.task_index}}

    def cluster_resolver(self) -> tf.distribute.cluster_resolver.ClusterResolver:
        """A resolver of this cluster for `MultiWorkerMirroredStrategy(cluster_resolver=...)`.

        `TF_CONFIG` runs get TensorFlow's own `TFConfigClusterResolver`; the others a
        `SimpleClusterResolver` of the cluster found here (for Slurm, the one that
        `SlurmClusterResolver` resolved).
        """
        if self.strategy != "multi_worker":
            raise ValueError(f"On a {self.scheduler} there is no worker cluster: use "
                             f"train.strategy={self.strategy!r}. Received: "
                             f"scheduler={self.scheduler!r}")
        if self.scheduler == "tf_config":
            return tf.distribute.cluster_resolver.TFConfigClusterResolver()
        return tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(self.cluster), task_type=self.task_type,
            task_id=self.task_index, rpc_layer="grpc")


def cluster_environment() -> ClusterEnvironment:
    """The cluster that this process's scheduler describes in its environment variables.

    Returns:
        A `ClusterEnvironment` (see the module docstring for the variables of each scheduler).

    Raises:
        ValueError: when no scheduler's variables are set, or when they are incomplete or
            invalid; the message names the variable and the value received.
    """
    environ = os.environ
    if "TF_CONFIG" in environ:
        return _from_tf_config(environ["TF_CONFIG"])
    if "CLUSTER_SPEC" in environ:
        return _from_vertex_cluster_spec(environ["CLUSTER_SPEC"])
    if "JOBSET_NAME" in environ:
        hosts, index = jobset_workers(environ)
        return ClusterEnvironment("kubernetes_jobset", "multi_worker", {"worker": hosts},
                                  "worker", index)
    if "JOB_COMPLETION_INDEX" in environ:
        hosts, index = indexed_job_workers(environ)
        return ClusterEnvironment("kubernetes_indexed_job", "multi_worker", {"worker": hosts},
                                  "worker", index)
    if "SLURM_PROCID" in environ:
        return _from_slurm(environ)
    if environ.get("TPU_NAME") or _on_tpu_vm(environ):
        return ClusterEnvironment("tpu_vm", "tpu", {})
    raise ValueError(
        "No cluster in the environment: set TF_CONFIG, or launch under a scheduler that this "
        "package reads (Kubernetes Indexed Job or JobSet with the env of deploy/, Vertex AI, "
        "Slurm's srun; see deploy/README.md). Received: none of TF_CONFIG, CLUSTER_SPEC, "
        "JOBSET_NAME, JOB_COMPLETION_INDEX, SLURM_PROCID is set")


def tpu_address() -> str:
    """What `TPUClusterResolver(tpu=...)` needs here: `TPU_NAME` when set (a TPU node or a
    named TPU), `"local"` on a TPU VM (its chips are attached to this host; an empty name
    makes TensorFlow ask for one), else `""` (the resolver's own lookup)."""
    environ = os.environ
    if environ.get("TPU_NAME"):
        return environ["TPU_NAME"]
    return "local" if _on_tpu_vm(environ) else ""


def _on_tpu_vm(environ) -> bool:
    return bool(environ.get("TPU_ACCELERATOR_TYPE")) or os.path.exists("/dev/accel0")


def _from_tf_config(text: str) -> ClusterEnvironment:
    cluster, task = cluster_and_task("TF_CONFIG", text)
    return _checked("tf_config", "TF_CONFIG", text, cluster, task.get("type"), task.get("index"))


def _from_vertex_cluster_spec(text: str) -> ClusterEnvironment:
    """Vertex AI's `CLUSTER_SPEC`: worker pools `workerpool0..3` and this task's pool."""
    pools, task = cluster_and_task("CLUSTER_SPEC", text)
    unknown = sorted(set(pools) - set(VERTEX_POOLS))
    if unknown or task.get("type") not in VERTEX_POOLS:
        raise ValueError(f"`CLUSTER_SPEC` worker pools must be among {sorted(VERTEX_POOLS)}. "
                         f"Received: CLUSTER_SPEC={text!r}")
    cluster = {VERTEX_POOLS[pool]: addresses for pool, addresses in pools.items() if addresses}
    return _checked("vertex_ai", "CLUSTER_SPEC", text, cluster, VERTEX_POOLS[task["type"]],
                    task.get("index"))


def _from_slurm(environ) -> ClusterEnvironment:
    """Slurm's job step (`srun`), resolved by TensorFlow's `SlurmClusterResolver`.

    Each task uses every accelerator its node gives it (one task per node is what
    `deploy/slurm.sbatch` runs): the resolver does not set `CUDA_VISIBLE_DEVICES`, and its GPU
    arithmetic is given one slot per task (it only assigns ports with it).
    """
    missing = [name for name in ("SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_STEP_NODELIST",
                                 "SLURM_STEP_TASKS_PER_NODE") if name not in environ]
    if missing:
        raise ValueError(f"A Slurm task needs {', '.join(missing)} (set by `srun` inside a job "
                         f"step; run the training under `srun`). Received: "
                         f"SLURM_PROCID={environ['SLURM_PROCID']!r}, {missing[0]} unset")
    integer_variable(environ, "SLURM_PROCID", minimum=0)
    port = integer_variable(environ, "ALBERT_KERAS_PORT", minimum=1, default=DEFAULT_PORT)
    slurm = tf.distribute.cluster_resolver.SlurmClusterResolver
    try:
        tasks_per_node = max(
            _slurm_tasks_per_node(environ["SLURM_STEP_TASKS_PER_NODE"]))
        resolver = slurm(port_base=port, gpus_per_node=tasks_per_node, gpus_per_task=1,
                         auto_set_gpu=False)
        cluster = resolver.cluster_spec().as_dict()
    except (ValueError, RuntimeError) as error:
        raise ValueError(
            f"Slurm's step variables do not describe a cluster ({error}). Received: "
            f"SLURM_PROCID={environ['SLURM_PROCID']!r}, SLURM_STEP_NUM_TASKS="
            f"{environ['SLURM_STEP_NUM_TASKS']!r}, SLURM_STEP_NODELIST="
            f"{environ['SLURM_STEP_NODELIST']!r}, SLURM_STEP_TASKS_PER_NODE="
            f"{environ['SLURM_STEP_TASKS_PER_NODE']!r}") from None
    return ClusterEnvironment("slurm", "multi_worker", cluster, resolver.task_type,
                              resolver.task_id)


def _slurm_tasks_per_node(text: str) -> list[int]:
    """`2(x3),1` -> [2, 2, 2, 1] (TensorFlow's own expansion, with its error)."""
    from tensorflow.python.distribute.cluster_resolver.slurm_cluster_resolver import (
        expand_tasks_per_node)

    return expand_tasks_per_node(text)


def _checked(scheduler: str, variable: str, text: str, cluster: dict, task_type,
             task_index) -> ClusterEnvironment:
    """The cluster of `TF_CONFIG` or `CLUSTER_SPEC`, checked for what MultiWorkerMirroredStrategy
    runs: chief and worker tasks, this task among them."""
    others = sorted(set(cluster) - set(TRAINING_TASKS))
    if others:
        raise ValueError(
            f"MultiWorkerMirroredStrategy trains with chief and worker tasks only; leave out "
            f"{others} (parameter servers and evaluators are not used). Received: "
            f"{variable}={text!r}")
    try:
        spec = tf.train.ClusterSpec(cluster).as_dict()
    except (TypeError, ValueError) as error:
        raise ValueError(f"The cluster of `{variable}` is not valid ({error}). "
                         f"Received: {variable}={text!r}") from None
    spec = {kind: list(tasks.values()) if isinstance(tasks, dict) else list(tasks)
            for kind, tasks in spec.items()}
    if not any(spec.get(kind) for kind in TRAINING_TASKS):
        raise ValueError(f"The cluster of `{variable}` has no chief or worker task. "
                         f"Received: {variable}={text!r}")
    if task_type not in spec or isinstance(task_index, bool) or not isinstance(task_index, int) \
            or not 0 <= task_index < len(spec[task_type]):
        raise ValueError(f"The task of `{variable}` must name a task of its cluster (type "
                         f"{sorted(spec)}, index within the type's list). Received: task type="
                         f"{task_type!r}, index={task_index!r}, {variable}={text!r}")
    return ClusterEnvironment(scheduler, "multi_worker", spec, task_type, task_index)
