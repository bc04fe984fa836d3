import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import matplotlib.pyplot  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from albert_keras.compare.plots import PLOT_NAMES, make_plots  # noqa: E402

DOWNSTREAM_PLOTS = {"parameters_vs_downstream", "pretrained_vs_random_init"}


def _curve(scale, nan_at=None):
    rows = []
    for i, step in enumerate((0, 10, 20, 30)):
        rows.append({"step": step, "seconds": 1.5 * step * scale, "mlm_loss": 6.0 - i * scale,
                     "mlm_accuracy": 0.1 * i, "pair_loss": 0.7 - 0.05 * i,
                     "pair_accuracy": 0.5 + 0.05 * i * scale})
    if nan_at is not None:
        rows[nan_at]["mlm_loss"] = math.nan
        rows[nan_at]["pair_accuracy"] = None
    return rows


def _downstream(pretrained, random_init):
    from albert_keras.jobs.downstream_protocol import paired_gain, summary

    values = [pretrained - 0.01, pretrained + 0.01]
    return {"metric": "accuracy",
            "pretrained": {"values": values, **summary(values)},
            "random_init": {"values": [random_init] * 2, **summary([random_init] * 2)},
            "gain": paired_gain(values, [random_init] * 2)}


def _arm(name, encoder, scale, downstream, nan_at=None):
    return {"name": name,
            "parameters": {"embeddings": encoder // 2, "transformer": encoder // 2, "pooler": 10,
                           "heads": 20, "encoder": encoder, "total": encoder + 30},
            "tokens_per_second": 1000.0 * scale, "peak_memory_mb": 300.0 * scale,
            "train_memory_mb": 200.0 * scale, "curve": _curve(scale, nan_at),
            "downstream": downstream}


@pytest.fixture
def report():
    return {"name": "tiny", "pair_task": "sop",
            "baseline": {"most_frequent_token_accuracy": 0.05, "pair_chance": 0.5},
            "arms": [_arm("bert", 1_200_000, 1.0, _downstream(0.8, 0.6)),
                     _arm("albert", 300_000, 0.8, _downstream(0.75, math.nan)),
                     _arm("albert_no_sharing", 900_000, 0.9, None, nan_at=2)],
            "views": {"equal_time": {"seconds": 20.0, "steps": {"bert": 13}}}}


def _check_png(path):
    assert os.path.getsize(path) < 200_000
    image = matplotlib.image.imread(path)  # (height, width, channels)
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 1


def test_writes_all_six_plots(report, tmp_path):
    paths = make_plots(report, str(tmp_path / "plots"))
    assert set(paths) == set(PLOT_NAMES)
    for name, path in paths.items():
        assert path == f"plots/{name}.png"
        _check_png(tmp_path / path)
    assert sorted(os.listdir(tmp_path / "plots")) == sorted(f"{n}.png" for n in PLOT_NAMES)
    assert matplotlib.pyplot.get_fignums() == []


def _has_colour(image, rgb):
    return bool(np.any(np.all(np.abs(image[..., :3] - rgb) < 2 / 255, axis=-1)))


def test_each_arm_keeps_its_colour_in_every_plot(report, tmp_path):
    paths = make_plots(report, str(tmp_path / "plots"))
    tab10 = [np.array(matplotlib.colormaps["tab10"](i)[:3]) for i in range(4)]
    for name, path in paths.items():
        image = matplotlib.image.imread(tmp_path / path)
        drawn = 2 if name in DOWNSTREAM_PLOTS else 3  # The third arm has no downstream scores.
        for i in range(drawn):
            assert _has_colour(image, tab10[i]), (name, i)
        assert not _has_colour(image, tab10[3]), name


def test_downstream_plots_absent_without_downstream(report, tmp_path):
    for arm in report["arms"]:
        arm["downstream"] = None
    paths = make_plots(report, str(tmp_path / "plots"))
    assert set(paths) == set(PLOT_NAMES) - DOWNSTREAM_PLOTS
    assert not any(os.path.exists(tmp_path / "plots" / f"{n}.png") for n in DOWNSTREAM_PLOTS)
    for path in paths.values():
        _check_png(tmp_path / path)


def test_curve_plots_absent_without_curve_points(report, tmp_path):
    for arm in report["arms"]:
        arm["curve"] = [{"step": 0, "seconds": 0.0, "mlm_loss": math.nan, "pair_accuracy": None}]
    del report["views"]
    paths = make_plots(report, str(tmp_path / "plots"))
    assert set(paths) == {"parameters_vs_downstream", "speed_and_memory",
                          "pretrained_vs_random_init"}


def test_no_arms_is_an_error(report, tmp_path):
    report["arms"] = []
    with pytest.raises(ValueError, match=r"report\['arms'\].*Received: arms=\[\]"):
        make_plots(report, str(tmp_path / "plots"))


def test_speed_bars_carry_the_range_of_the_speed_rounds(report):
    from matplotlib.container import ErrorbarContainer
    from matplotlib.figure import Figure

    from albert_keras.compare.plots import _speed_and_memory

    def ranges(arms):
        fig = Figure()
        assert _speed_and_memory(fig, arms, ["C0", "C1", "C2"])
        speed = fig.axes[0]
        return [[segment[:, 1].tolist() for segment in container.lines[2][0].get_segments()]
                for container in speed.containers if isinstance(container, ErrorbarContainer)]

    assert ranges(report["arms"]) == []  # No rounds, no range.
    for arm in report["arms"][:2]:  # The third arm has its training figure only.
        speed = arm["tokens_per_second"]
        arm.update(tokens_per_second_min=0.8 * speed, tokens_per_second_max=1.1 * speed,
                   tokens_per_second_rounds=[0.8 * speed, speed, 1.1 * speed])
    assert np.allclose(ranges(report["arms"]), [[[800.0, 1100.0], [640.0, 880.0]]])
