"""Op time per step from a TensorFlow profiler trace (`*.xplane.pb`), by type, category, phase.

Used by `train_step_profile.py`. Every TensorFlow op execution on the host plane (event metadata
name `op_name:OpType`, on the executor's `tf_Compute` threads) that starts inside a step (one
`tf_function_call` event on the python thread) is kept; ops that contain other ops (function
calls, control flow) are left out, their bodies count. Ops can run at the same time on the
inter-op threads, so each instant is split evenly among the ops running then ("attributed"
time: it sums to the time at least one op runs); "summed" time is the plain sum of durations.
"""

from __future__ import annotations

import collections
import re

CATEGORIES = ("matmul", "softmax+mask", "layer norm", "gelu", "dropout", "other elementwise",
              "gather/scatter/embedding", "optimizer update", "loss/metrics", "other")
PHASES = ("forward", "backward", "optimizer", "other")
OP_EVENT = re.compile(r"^(?P<name>[^:]+):(?P<type>[A-Za-z_][A-Za-z0-9_]*)$")  # `a/b/MatMul:MatMul`
WRAPPER = re.compile(r"^(Stateful)?PartitionedCall(_\d+)?$")  # The function-call scope.
# Ops whose execution contains other ops' executions: not leaves, their bodies are counted.
CALL_TYPES = {"PartitionedCall", "StatefulPartitionedCall", "While", "StatelessWhile", "If",
              "StatelessIf", "Case", "StatelessCase", "RemoteCall"}
ELEMENTWISE = {
    "Abs", "Add", "AddN", "AddV2", "All", "Any", "BiasAdd", "BiasAddGrad", "Cast", "ClipByValue",
    "Div", "DivNoNan", "Equal", "Erf", "Erfc", "Exp", "Floor", "FloorDiv", "FloorMod", "Greater",
    "GreaterEqual", "IsFinite", "L2Loss", "Less", "LessEqual", "Log", "Log1p", "LogicalAnd",
    "LogicalNot", "LogicalOr", "Max", "Maximum", "Mean", "Min", "Minimum", "Mul", "MulNoNan",
    "Neg", "NotEqual", "OnesLike", "Pow", "Prod", "RealDiv", "Reciprocal", "Relu", "ReluGrad",
    "Rsqrt", "RsqrtGrad", "Select", "SelectV2", "Sigmoid", "SigmoidGrad", "Sign", "Sqrt",
    "SqrtGrad", "Square", "SquaredDifference", "Sub", "Sum", "Tanh", "TanhGrad", "ZerosLike"}
LAYOUT = {"BroadcastTo", "ConcatV2", "ExpandDims", "Identity", "Pack", "ReadVariableOp", "Reshape",
          "Slice", "Split", "Squeeze", "StridedSlice", "StridedSliceGrad", "Tile", "Transpose",
          "Unpack"}


def parse_xplane(path: str, num_steps: int, model_name: str, optimizer_name: str) -> dict:
    """Per-step op time by type, category and phase from a profiler `*.xplane.pb`."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    host = next((p for p in space.planes if p.name == "/host:CPU"), None)
    if host is None:
        planes = [p.name for p in space.planes]
        raise RuntimeError(f"no /host:CPU plane in {path}. Planes: {planes}")
    ops, dropped = [], collections.Counter()
    for line in host.lines:
        events = []
        for event in line.events:
            match = OP_EVENT.match(host.event_metadata[event.metadata_id].name)
            if match:
                start = line.timestamp_ns * 1000 + event.offset_ps
                events.append((start, start + event.duration_ps, match["name"], match["type"]))
        ops += _leaves(events, dropped)
    if not ops:
        lines = [f"{line.name} ({len(line.events)} events)" for line in host.lines]
        raise RuntimeError(f"no TensorFlow op events (`name:Type`) on the host plane of {path}. "
                           f"Lines: {lines}")
    windows = _step_windows(host)
    if len(windows) != num_steps:
        raise RuntimeError(f"expected {num_steps} step calls (`tf_function_call` events on the "
                           f"python line) in {path}. Received: {len(windows)}")
    inside = [op for op in ops if any(a <= op[0] < b for a, b in windows)]
    outside_ps = sum(op[1] - op[0] for op in ops) - sum(op[1] - op[0] for op in inside)
    attributed, busy_ps = _attribute(inside)
    per_step = 1e-12 / num_steps  # ps in all steps -> seconds per step.
    # The attention's scopes: those of its Softmax ops (forward, and backward under gradient_tape/).
    softmax_scopes = {_parent_scope(op[2]) for op in inside if _base_type(op[3]) == "Softmax"}
    by_type, by_category, by_phase, by_name = {}, {}, {}, {}
    by_category_phase: dict = {}
    matmul_intervals = []
    for (start, end, name, op_type), share in zip(inside, attributed):
        phase = _phase(name, op_type, model_name, optimizer_name)
        category = _category(name, op_type, phase, softmax_scopes)
        if category == "matmul":
            matmul_intervals.append((start, end))
        for table, key in ((by_type, op_type), (by_category, category), (by_phase, phase),
                           (by_category_phase, f"{category}|{phase}"),
                           (by_name, f"{_generic_name(name)}:{op_type}")):
            row = table.setdefault(key, {"summed": 0.0, "attributed": 0.0, "count": 0.0})
            row["summed"] += (end - start) * per_step
            row["attributed"] += share * per_step
            row["count"] += 1 / num_steps
    empty = {"summed": 0.0, "attributed": 0.0, "count": 0.0}
    return {
        "step_seconds": sum(b - a for a, b in windows) * per_step,
        "op_seconds_summed": sum(op[1] - op[0] for op in inside) * per_step,
        "op_seconds_busy": busy_ps * per_step,
        "matmul_seconds_busy": _attribute(matmul_intervals)[1] * per_step,
        "ops_per_step": len(inside) / num_steps,
        "op_seconds_outside_steps": outside_ps * per_step,
        "dropped_non_leaf_ops": dict(dropped),
        "by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1]["attributed"])),
        "by_category": {c: by_category.get(c, empty) for c in CATEGORIES},
        "by_phase": {p: by_phase.get(p, empty) for p in PHASES},
        "by_category_phase": by_category_phase,
        "by_name": dict(sorted(by_name.items(), key=lambda kv: -kv[1]["attributed"])[:100])}


def _leaves(events: list[tuple], dropped: collections.Counter) -> list[tuple]:
    """The events of one thread that contain no other op event (and are no function call)."""
    events.sort(key=lambda e: (e[0], -e[1]))
    stack, parents = [], set()
    for index, (start, end, _, _) in enumerate(events):
        while stack and events[stack[-1]][1] <= start:
            stack.pop()
        if stack:
            parents.add(stack[-1])
        stack.append(index)
    leaves = []
    for index, event in enumerate(events):
        if index in parents or event[3] in CALL_TYPES:
            dropped[event[3]] += 1
        else:
            leaves.append(event)
    return leaves


def _step_windows(host) -> list[tuple[int, int]]:
    """(start, end) in ps of each outermost tf.function call on the python thread: one a step."""
    stat_names = {i: m.name for i, m in host.stat_metadata.items()}
    windows = []
    for line in host.lines:
        for event in line.events:
            if any(stat_names.get(s.metadata_id) == "tf_function_call" for s in event.stats):
                start = line.timestamp_ns * 1000 + event.offset_ps
                windows.append((start, start + event.duration_ps))
    windows.sort()
    outermost = []
    for start, end in windows:
        if not outermost or start >= outermost[-1][1]:
            outermost.append((start, end))
    return outermost


def _attribute(ops: list[tuple]) -> tuple[list[float], int]:
    """Splits each instant evenly among the ops running then; returns shares and busy time.

    `ops` are (start, end, ...) tuples; busy time is the time at least one of them runs.
    """
    boundaries = sorted([(op[0], 1, i) for i, op in enumerate(ops)]
                        + [(op[1], 0, i) for i, op in enumerate(ops)])  # Ends first at ties.
    shares, active, busy, previous = [0.0] * len(ops), set(), 0, None
    for time_ps, is_start, index in boundaries:
        if active and time_ps > previous:
            for i in active:
                shares[i] += (time_ps - previous) / len(active)
            busy += time_ps - previous
        previous = time_ps
        (active.add if is_start else active.discard)(index)
    return shares, busy


def _scopes(name: str) -> list[str]:
    scopes = name.split("/")
    while len(scopes) > 1 and WRAPPER.match(scopes[0]):
        scopes = scopes[1:]
    return scopes


def _parent_scope(name: str) -> str:
    """The op's scope without the function-call wrapper and `gradient_tape/`."""
    return "/".join(s for s in _scopes(name)[:-1] if s != "gradient_tape")


def _generic_name(name: str) -> str:
    """The op name with the layer's call and instance numbers dropped: one name for N layers."""
    scopes = _scopes(name)
    return "/".join([re.sub(r"(_\d+)+$", "", s) for s in scopes[:-1]] + scopes[-1:])


def _base_type(op_type: str) -> str:
    return re.sub(r"^_(MklNative|Mkl)?", "", op_type)  # `_MklBatchMatMulV2` -> `BatchMatMulV2`.


def _phase(name: str, op_type: str, model_name: str, optimizer_name: str) -> str:
    scopes = _scopes(name)
    if "gradient_tape" in scopes or re.match(r"AddN(_\d+)?$", scopes[0]):
        return "backward"  # Gradient functions, and the tape's sums of a variable's gradients.
    if optimizer_name in scopes or op_type.startswith("ResourceApply"):
        return "optimizer"
    if scopes[0].startswith(("compile_loss", "compile_metrics")):  # Loss, or metric's Assign*.
        return "other" if op_type.startswith("Assign") else "forward"
    if re.match(re.escape(model_name) + r"(_\d+)?$", scopes[0]) and len(scopes) > 1:
        return "forward"  # The model's scope, e.g. `pretrainer_1/`.
    return "optimizer" if op_type.startswith("Assign") else "other"


def _category(name: str, op_type: str, phase: str, softmax_scopes: set[str]) -> str:
    base, lower = _base_type(op_type), name.lower()
    if phase == "optimizer":
        return "optimizer update"
    if "compile_loss" in lower or "compile_metrics" in lower or "CrossEntropy" in base:
        return "loss/metrics"
    if "MatMul" in base or base == "Einsum":
        return "matmul"
    if any("dropout" in s for s in _scopes(lower)[:-1]):
        return "dropout"  # Its random mask, and the mask's use forward and backward.
    if base == "Softmax" or _parent_scope(name) in softmax_scopes:
        return "softmax+mask"  # With the scaling, masking and softmax gradient next to it.
    if "layer_norm" in lower or "layernorm" in lower or "LayerNorm" in base:
        return "layer norm"
    if "gelu" in lower:
        return "gelu"
    if "Gather" in base or "Scatter" in base or "SegmentSum" in base:
        return "gather/scatter/embedding"
    if base in LAYOUT:
        return "other"
    if any("embedding" in s for s in _scopes(lower)[:-1]):
        return "gather/scatter/embedding"
    if base in ELEMENTWISE or "Random" in base:  # Random: dropout masks.
        return "other elementwise"
    return "other"


# === Tables ===
