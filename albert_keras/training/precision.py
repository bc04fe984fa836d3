"""`resolve_precision`: what `precision: auto` means on the hardware at hand.

bfloat16 mixed precision (bfloat16 compute, float32 variables, optimizer state, LayerNorm
statistics and losses) where the chip computes bfloat16 natively, float32 elsewhere:

- TPUs: bfloat16 matrix units;
- NVIDIA GPUs of compute capability >= 8.0 (A100, L4, H100, RTX 30xx and later);
- x86 CPUs with `avx512_bf16` or `amx_bf16` (Intel Cooper Lake, Sapphire Rapids and later,
  AMD Zen 4 and later), which oneDNN uses for TensorFlow's bfloat16 matmuls.

Elsewhere (older GPUs, CPUs without those flags) bfloat16 would be emulated and slower, so
`auto` keeps float32; `mixed_float16` stays an explicit choice (V100/T4 tensor cores).
"""

from __future__ import annotations

import os

import tensorflow as tf

from albert_keras.training.choices import PRECISIONS
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def resolve_precision(precision: str, strategy: tf.distribute.Strategy | None = None,
                      cpu_flags: frozenset[str] | None = None,
                      gpu_capabilities: list | None = None) -> tuple[str, str]:
    """(Keras dtype policy name, reason) for `precision`.

    Args:
        precision: str. One of `PRECISIONS`; anything but `"auto"` is returned as it is.
        strategy: the `tf.distribute` strategy the model trains under (a `TPUStrategy` means
            TPUs). Defaults to None.
        cpu_flags: frozenset of str or None. The CPU's feature flags; None reads them from
            `/proc/cpuinfo` (empty where there is none).
        gpu_capabilities: list of `(major, minor)` or None. The visible GPUs' compute
            capabilities; None asks TensorFlow.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"`precision` must be one of {PRECISIONS}. Received: precision={precision!r}")
    if precision != "auto":
        return precision, "set in the config"
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16", "auto: TPUs compute bfloat16 natively"
    capabilities = _gpu_capabilities() if gpu_capabilities is None else gpu_capabilities
    if capabilities:
        shown = ", ".join(f"{major}.{minor}" for major, minor in capabilities)
        if all(tuple(c) >= (8, 0) for c in capabilities):
            return "mixed_bfloat16", f"auto: GPU compute capability {shown} >= 8.0 computes bfloat16 natively"
        return "float32", f"auto: GPU compute capability {shown} < 8.0 has no native bfloat16"
    flags = read_cpu_flags() if cpu_flags is None else cpu_flags
    native = [flag for flag in BF16_CPU_FLAGS if flag in flags]
    if native:
        return "mixed_bfloat16", f"auto: the CPU has {' and '.join(native)}"
    return "float32", (f"auto: the CPU has neither {' nor '.join(BF16_CPU_FLAGS)}, so bfloat16 "
                       "would be emulated")


def read_cpu_flags(path: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU feature flags Linux lists (empty on other systems)."""
    if not os.path.isfile(path):
        return frozenset()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name.strip() in ("flags", "Features"):
                return frozenset(value.split())
    return frozenset()


def dtype_policy(precision: str) -> str | None:
    """The `dtype` argument for models: None (Keras' float32 default) or the policy's name."""
    return None if precision == "float32" else precision


def _gpu_capabilities() -> list:
    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability:
            capabilities.append(tuple(capability))
    return capabilities
