"""A scheduler's environment variables, read and checked: each error names the variable and the
value received.

The pieces of `cluster_environment.py`: `cluster_and_task` (a `TF_CONFIG`-shaped JSON variable),
`integer_variable`, and the workers of a Kubernetes JobSet (`jobset_workers`) or Indexed Job
(`indexed_job_workers`), whose pods get a DNS name but no cluster description: the manifests of
`deploy/` pass the rest (see `cluster_environment.py`).
"""

from __future__ import annotations

import json
import re

DEFAULT_PORT = 2222
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def cluster_and_task(variable: str, text: str) -> tuple[dict, dict]:
    """The `cluster` and `task` mappings of a TF_CONFIG-shaped JSON variable."""
    config = _json_object(variable, text)
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ValueError(f"`{variable}` must hold a `cluster` mapping and a `task` mapping. "
                         f"Received: {variable}={text!r}")
    return cluster, task


def jobset_workers(environ) -> tuple[list[str], int]:
    """A JobSet of one replicated job: `REPLICATED_JOB_REPLICAS` Jobs of
    `ALBERT_KERAS_PODS_PER_JOB` pods, named `<jobset>-<rjob>-<job>-<pod>.<subdomain>`.

    Returns:
        `(hosts, index)`: `host:port` of every worker, and this pod's index among them.
    """
    jobset = _dns_name(environ, "JOBSET_NAME")
    replicated_job = _dns_name(environ, "REPLICATED_JOB_NAME")
    num_jobs = integer_variable(environ, "REPLICATED_JOB_REPLICAS", minimum=1)
    pods_per_job = integer_variable(environ, "ALBERT_KERAS_PODS_PER_JOB", minimum=1, default=1)
    job_index = integer_variable(environ, "JOB_INDEX", minimum=0,
                                 below=(num_jobs, "REPLICATED_JOB_REPLICAS"))
    pod_index = integer_variable(environ, "JOB_COMPLETION_INDEX", minimum=0,
                                 below=(pods_per_job, "ALBERT_KERAS_PODS_PER_JOB"))
    subdomain = (_dns_name(environ, "ALBERT_KERAS_SERVICE") if "ALBERT_KERAS_SERVICE" in environ
                 else jobset)  # JobSet's default subdomain is the JobSet's name.
    port = integer_variable(environ, "ALBERT_KERAS_PORT", minimum=1, default=DEFAULT_PORT)
    hosts = [f"{jobset}-{replicated_job}-{job}-{pod}.{subdomain}:{port}"
             for job in range(num_jobs) for pod in range(pods_per_job)]
    hosts = _explicit_hosts(environ, len(hosts)) or hosts
    return hosts, job_index * pods_per_job + pod_index


def indexed_job_workers(environ) -> tuple[list[str], int]:
    """An Indexed Job with a headless Service: pods `<job>-<index>.<service>`.

    Returns:
        `(hosts, index)`: `host:port` of every worker, and this pod's index among them.
    """
    num_workers = integer_variable(environ, "ALBERT_KERAS_NUM_WORKERS", minimum=1)
    index = integer_variable(environ, "JOB_COMPLETION_INDEX", minimum=0,
                             below=(num_workers, "ALBERT_KERAS_NUM_WORKERS"))
    port = integer_variable(environ, "ALBERT_KERAS_PORT", minimum=1, default=DEFAULT_PORT)
    hosts = _explicit_hosts(environ, num_workers)
    if not hosts:
        service = _dns_name(environ, "ALBERT_KERAS_SERVICE")
        if "ALBERT_KERAS_JOB_NAME" in environ:
            job = _dns_name(environ, "ALBERT_KERAS_JOB_NAME")
        else:  # An Indexed Job's pod is named `<job>-<index>`.
            hostname = environ.get("HOSTNAME", "")
            if not hostname.endswith(f"-{index}"):
                raise ValueError(
                    "A Kubernetes Indexed Job needs the Job's name: set ALBERT_KERAS_JOB_NAME "
                    f"(or run in a pod whose HOSTNAME is `<job>-{index}`). Received: "
                    f"ALBERT_KERAS_JOB_NAME unset, HOSTNAME={hostname!r}")
            job = hostname[:-len(f"-{index}")]
        hosts = [f"{job}-{i}.{service}:{port}" for i in range(num_workers)]
    return hosts, index


def _json_object(variable: str, text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"`{variable}` is not valid JSON ({error}). "
                         f"Received: {variable}={text!r}") from None
    if not isinstance(value, dict):
        raise ValueError(f"`{variable}` must be a JSON object. Received: {variable}={text!r}")
    return value


def integer_variable(environ, name: str, minimum: int, default: int | None = None,
                     below: tuple[int, str] | None = None) -> int:
    """The integer variable `name`, at least `minimum` and less than `below[0]` (the value of
    the variable `below[1]`)."""
    if name not in environ:
        if default is not None:
            return default
        raise ValueError(f"`{name}` must be set (an integer >= {minimum}). Received: {name} unset")
    text = environ[name]
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum or (below is not None and value >= below[0]):
        bound = f" and < {below[1]}={below[0]}" if below is not None else ""
        raise ValueError(f"`{name}` must be an integer >= {minimum}{bound}. "
                         f"Received: {name}={text!r}")
    return value


def _dns_name(environ, name: str) -> str:
    """A Kubernetes name (a DNS label: lowercase letters, digits and `-`)."""
    if name not in environ:
        raise ValueError(f"`{name}` must be set (a Kubernetes name). Received: {name} unset")
    value = environ[name]
    if not _DNS_LABEL.match(value) or len(value) > 63:
        raise ValueError(f"`{name}` must be a Kubernetes name (lowercase letters, digits and "
                         f"'-', at most 63 characters). Received: {name}={value!r}")
    return value


def _explicit_hosts(environ, count: int) -> list[str]:
    """`ALBERT_KERAS_WORKER_HOSTS` as a list of `count` `host:port`, or [] when unset."""
    text = environ.get("ALBERT_KERAS_WORKER_HOSTS", "")
    if not text:
        return []
    hosts = [host.strip() for host in text.split(",")]
    if len(hosts) != count or not all(re.fullmatch(r"[^\s:,]+:\d+", host) for host in hosts):
        raise ValueError(f"`ALBERT_KERAS_WORKER_HOSTS` must list {count} `host:port` addresses "
                         f"(one per worker, comma-separated). Received: "
                         f"ALBERT_KERAS_WORKER_HOSTS={text!r}")
    return hosts
