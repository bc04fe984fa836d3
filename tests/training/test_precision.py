"""`precision: auto`: bfloat16 where the chip computes it natively, float32 elsewhere."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_keras.training.precision import read_cpu_flags, resolve_precision


@pytest.mark.parametrize("flags,gpus,expected,reason", [
    ({"avx2", "avx512f", "avx512_bf16"}, [], "mixed_bfloat16", "avx512_bf16"),
    ({"avx2", "amx_bf16", "amx_tile", "avx512_bf16"}, [], "mixed_bfloat16", "amx_bf16 and avx512_bf16"),
    ({"avx2", "avx512f", "fma"}, [], "float32", "would be emulated"),
    (set(), [], "float32", "neither amx_bf16 nor avx512_bf16"),
    ({"avx512_bf16"}, [(8, 0)], "mixed_bfloat16", "GPU compute capability 8.0 >= 8.0"),
    ({"avx512_bf16"}, [(9, 0), (9, 0)], "mixed_bfloat16", "9.0, 9.0"),
    ({"avx512_bf16"}, [(7, 5)], "float32", "7.5 < 8.0"),  # A T4: the GPU decides, not the CPU.
    (set(), [(8, 6), (7, 0)], "float32", "8.6, 7.0 < 8.0"),
])
def test_auto_picks_bfloat16_only_where_the_hardware_has_it(flags, gpus, expected, reason):
    precision, why = resolve_precision("auto", cpu_flags=frozenset(flags), gpu_capabilities=gpus)
    assert precision == expected and why.startswith("auto: ") and reason in why


def test_explicit_precisions_win_and_bad_ones_are_named():
    for precision in ("float32", "mixed_bfloat16", "mixed_float16"):
        assert resolve_precision(precision, cpu_flags=frozenset()) == (precision, "set in the config")
    with pytest.raises(ValueError, match="precision='bfloat16'"):
        resolve_precision("bfloat16")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16 amx_bf16\n\n"
                       "processor\t: 1\nflags\t\t: fpu avx2 avx512_bf16 amx_bf16\n")
    assert read_cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "avx512_bf16", "amx_bf16"}
    assert read_cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_this_machine_resolves_and_the_pipelines_default_to_auto():
    from albert_keras.pipeline import pipeline_from_dict

    config = pipeline_from_dict({"name": "x"})
    assert config.train.precision == config.finetune.precision == "auto"
    precision, why = resolve_precision("auto")
    has_bf16 = bool({"avx512_bf16", "amx_bf16"} & read_cpu_flags())
    if not tf.config.list_physical_devices("GPU"):
        assert precision == ("mixed_bfloat16" if has_bf16 else "float32"), why


def test_mixed_bfloat16_keeps_variables_layer_norm_and_losses_in_float32():
    from albert_keras.models.encoder import Encoder
    from albert_keras.models.pretrainer import Pretrainer
    from tests.helpers import tiny_inputs

    encoder = Encoder(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16,
                      intermediate_dim=32, max_sequence_length=16, dtype="mixed_bfloat16")
    pretrainer = Pretrainer(encoder)
    assert {v.dtype for v in pretrainer.weights} == {"float32"}  # Optimizer slots follow them.
    x = {**tiny_inputs(sequence_length=8), "mask_positions": np.array([[1, 2], [3, 4]], "int32")}
    outputs = pretrainer(x)
    assert outputs["mlm"].dtype == outputs["pair"].dtype == "float32"  # Losses read float32.
    assert encoder(tiny_inputs(sequence_length=8))["sequence_output"].dtype == "bfloat16"
    # Keras' LayerNormalization computes its statistics in float32 for bfloat16 inputs.
    norm = keras.layers.LayerNormalization(dtype="mixed_bfloat16")
    wide = tf.constant([[1024.0, 1032.0, 1040.0, 1048.0]], "bfloat16")  # Mean 1036: not a bf16.
    np.testing.assert_allclose(np.asarray(norm(wide), "float32"),
                               [[-1.342, -0.447, 0.447, 1.342]], atol=0.02)
