"""The Dockerfile and the launchers of `deploy/`, tested up to the line where a Docker daemon or
a cluster would be needed: each manifest's environment, fed to `cluster_environment` for every
pod or task, yields a valid cluster; the container's entrypoint is the package's console script."""

import ast
import json
import os
import re
import subprocess

import pytest

from albert_keras.training import cluster_environment as module
from albert_keras.training.cluster_environment import cluster_environment
from tests.helpers.deploy_manifests import (DEPLOY, ROOT, container_env, indexed_job_pod_env, load_yaml,
                                    of_kind)

SCHEDULER_PREFIXES = ("SLURM_", "ALBERT_KERAS_", "JOB", "REPLICATED_JOB", "TPU_")


@pytest.fixture
def clean_env(monkeypatch):
    """No scheduler variable of this machine; `set_env(dict)` sets a pod's or task's."""
    for name in list(os.environ):
        if name.startswith(SCHEDULER_PREFIXES) or name in ("TF_CONFIG", "CLUSTER_SPEC",
                                                           "HOSTNAME"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(module.os.path, "exists", lambda path: False)

    def set_env(variables):
        for name in list(os.environ):
            if name.startswith(SCHEDULER_PREFIXES) or name in ("TF_CONFIG", "CLUSTER_SPEC"):
                monkeypatch.delenv(name)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return set_env


def _console_scripts():
    tree = ast.parse(open(os.path.join(ROOT, "setup.py"), encoding="utf-8").read())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "entry_points":
            return dict(entry.split("=") for entry in
                        ast.literal_eval(node.value)["console_scripts"])
    raise AssertionError("no console_scripts in setup.py")


def test_dockerfile_runs_the_console_script_on_tensorflow_2_21():
    text = open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8").read()
    (entrypoint,) = re.findall(r"^ENTRYPOINT (.+)$", text, re.MULTILINE)
    (command,) = json.loads(entrypoint)
    scripts = _console_scripts()
    assert scripts[command] == "albert_keras.cli:main"
    import albert_keras.cli

    assert callable(albert_keras.cli.main)
    assert re.search(r"^ARG BASE=tensorflow/tensorflow:2\.21\.\d+$", text, re.MULTILINE)
    assert re.search(r"^FROM \$\{BASE\}$", text, re.MULTILINE)
    assert re.search(r"^RUN pip install [^\n]* \.( |$)", text, re.MULTILINE)
    for copied in re.findall(r"^COPY (.+) \S+$", text, re.MULTILINE):
        for path in copied.split():
            assert os.path.exists(os.path.join(ROOT, path)), path


def _pretrain_args(args):
    assert args[:3] == ["pretrain", "--config", "pipelines/albert_base.yaml"]
    assert os.path.isfile(os.path.join(ROOT, args[2]))
    return args


def test_indexed_job_pods_get_the_cluster_of_the_headless_service(clean_env):
    documents = load_yaml("kubernetes/indexed-job.yaml")
    service, job = of_kind(documents, "Service"), of_kind(documents, "Job")
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == {"job-name": job["metadata"]["name"]}
    assert pod["subdomain"] == service["metadata"]["name"]
    assert spec["completionMode"] == "Indexed"
    workers = spec["completions"]
    assert spec["parallelism"] == workers >= 2
    assert "train.strategy=multi_worker" in _pretrain_args(container["args"])
    port = container["ports"][0]["containerPort"]
    assert service["spec"]["ports"][0]["port"] == port
    name, subdomain = job["metadata"]["name"], pod["subdomain"]
    for index in range(workers):
        clean_env(indexed_job_pod_env(index))
        found = cluster_environment()
        assert found.tf_config() == {
            "cluster": {"worker": [f"{name}-{i}.{subdomain}:{port}" for i in range(workers)]},
            "task": {"type": "worker", "index": index}}
        assert found.is_chief == (index == 0)


def test_jobset_pods_get_the_cluster_of_the_jobset_network(clean_env):
    jobset = of_kind(load_yaml("kubernetes/jobset.yaml"), "JobSet")
    assert jobset["spec"]["network"]["enableDNSHostnames"] is True
    (replicated,) = jobset["spec"]["replicatedJobs"]
    job = replicated["template"]["spec"]
    assert job["completions"] == job["parallelism"] == 1 and job["completionMode"] == "Indexed"
    (container,) = job["template"]["spec"]["containers"]
    assert "train.strategy=multi_worker" in _pretrain_args(container["args"])
    port = container["ports"][0]["containerPort"]
    name, rjob, replicas = jobset["metadata"]["name"], replicated["name"], replicated["replicas"]
    for job_index in range(replicas):
        labels = {"jobset.sigs.k8s.io/jobset-name": name,  # What JobSet puts on its pods.
                  "jobset.sigs.k8s.io/replicatedjob-name": rjob,
                  "jobset.sigs.k8s.io/replicatedjob-replicas": str(replicas),
                  "jobset.sigs.k8s.io/job-index": str(job_index)}
        clean_env({**container_env(container, labels), "JOB_COMPLETION_INDEX": "0"})
        found = cluster_environment()
        assert found.scheduler == "kubernetes_jobset"
        assert found.tf_config() == {
            "cluster": {"worker": [f"{name}-{rjob}-{j}-0.{name}:{port}"
                                   for j in range(replicas)]},
            "task": {"type": "worker", "index": job_index}}


def test_vertex_ai_replicas_get_a_chief_and_workers(clean_env):
    (config,) = load_yaml("vertex-ai.yaml")
    pools = config["workerPoolSpecs"]
    assert pools[0]["replicaCount"] == 1  # Vertex AI's primary replica: the chief.
    assert len({json.dumps(pool["containerSpec"]) for pool in pools}) == 1
    assert "train.strategy=multi_worker" in _pretrain_args(pools[0]["containerSpec"]["args"])
    cluster = {f"workerpool{i}": [f"pool{i}-replica{r}:2222" for r in range(pool["replicaCount"])]
               for i, pool in enumerate(pools)}
    tasks = [(pool, r) for pool, hosts in cluster.items() for r in range(len(hosts))]
    assert len(tasks) >= 2
    for pool, replica in tasks:  # CLUSTER_SPEC as Vertex AI sets it in each replica.
        clean_env({"CLUSTER_SPEC": json.dumps({
            "cluster": cluster, "environment": "cloud",
            "task": {"type": pool, "index": replica}})})
        found = cluster_environment()
        assert found.cluster == {"chief": cluster["workerpool0"], "worker": cluster["workerpool1"]}
        assert found.is_chief == (pool == "workerpool0")
        clean_env({"TF_CONFIG": json.dumps({"cluster": found.cluster, "task": {
            "type": found.task_type, "index": found.task_index}, "environment": "cloud"})})
        assert cluster_environment().tf_config() == found.tf_config()  # Vertex's TF_CONFIG.


def _sbatch_options(text):
    return dict(re.findall(r"^#SBATCH --([\w-]+)=(\S+)", text, re.MULTILINE))


def test_slurm_tasks_get_one_worker_per_node(clean_env):
    text = open(os.path.join(DEPLOY, "slurm.sbatch"), encoding="utf-8").read()
    options = _sbatch_options(text)
    nodes = int(options["nodes"])
    assert options["ntasks-per-node"] == "1" and nodes >= 2
    assert re.search(r"^srun .*albert-keras pretrain .*train\.strategy=multi_worker", text,
                     re.MULTILINE)
    for rank in range(nodes):  # What srun sets in each task of the step.
        clean_env({"SLURM_PROCID": str(rank), "SLURM_STEP_NUM_TASKS": str(nodes),
                   "SLURM_STEP_NODELIST": f"gpu[01-{nodes:02d}]",
                   "SLURM_STEP_TASKS_PER_NODE": f"1(x{nodes})", "ALBERT_KERAS_PORT": "2222"})
        found = cluster_environment()
        assert found.tf_config() == {
            "cluster": {"worker": [f"gpu{i + 1:02d}:2222" for i in range(nodes)]},
            "task": {"type": "worker", "index": rank}}


def test_tpu_vm_script_runs_the_tpu_strategy(clean_env):
    text = open(os.path.join(DEPLOY, "tpu-vm.sh"), encoding="utf-8").read()
    assert re.search(r"albert-keras pretrain .*train\.strategy=tpu", text)
    (tpu_name,) = re.findall(r'export TPU_NAME="\$\{TPU_NAME:-(\w+)\}"', text)
    clean_env({"TPU_NAME": tpu_name})
    assert cluster_environment().strategy == "tpu"


@pytest.mark.parametrize("script", ["slurm.sbatch", "tpu-vm.sh"])
def test_scripts_are_valid_bash(script):
    result = subprocess.run(["bash", "-n", os.path.join(DEPLOY, script)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


def test_every_launcher_is_documented():
    readme = open(os.path.join(DEPLOY, "README.md"), encoding="utf-8").read()
    for directory, _, files in os.walk(DEPLOY):
        for name in files:
            path = os.path.relpath(os.path.join(directory, name), DEPLOY)
            if path != "README.md":
                assert path in readme, path
    assert "Dockerfile" in readme and "no docker daemon" in readme.lower()
