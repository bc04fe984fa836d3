"""`WarmupPolynomialDecay`: linear warmup, then polynomial (power 1 = linear) decay."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="albert_keras")
class WarmupPolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate of BERT and ALBERT pretraining: warm up linearly, then decay.

    For `step < warmup_steps` the rate is `peak_learning_rate * step / warmup_steps`; after it
    falls from `peak_learning_rate` to `end_learning_rate` as `(1 - progress) ** power`,
    reaching the end at `decay_steps` (counted from step 0, warmup included) and staying there.

    Args:
        peak_learning_rate: float. The rate at the end of warmup.
        warmup_steps: int. Steps of linear warmup; 0 starts at the peak.
        decay_steps: int. The step at which the rate reaches `end_learning_rate`; usually the
            number of training steps.
        end_learning_rate: float. Defaults to 0.0.
        power: float. 1.0 is linear decay. Defaults to 1.0.

    Example:
    ```python
    from albert_keras.training.lamb import Lamb

    schedule = WarmupPolynomialDecay(0.00176, warmup_steps=3125, decay_steps=125000)
    optimizer = Lamb(learning_rate=schedule)
    assert abs(float(schedule(3125)) - 0.00176) < 1e-9  # The peak, after the warmup.
    ```
    """

    def __init__(self, peak_learning_rate, warmup_steps, decay_steps, end_learning_rate=0.0,
                 power=1.0):
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError("`warmup_steps` must be a non-negative integer. "
                             f"Received: warmup_steps={warmup_steps!r}")
        if isinstance(decay_steps, bool) or not isinstance(decay_steps, int) \
                or decay_steps <= warmup_steps:
            raise ValueError("`decay_steps` must be an integer larger than `warmup_steps`. "
                             f"Received: decay_steps={decay_steps!r}, warmup_steps={warmup_steps!r}")
        self.peak_learning_rate = peak_learning_rate
        self.warmup_steps = warmup_steps
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        peak = keras.ops.cast(self.peak_learning_rate, "float32")
        warmup = peak * step / max(self.warmup_steps, 1)
        progress = keras.ops.clip(
            (step - self.warmup_steps) / (self.decay_steps - self.warmup_steps), 0.0, 1.0)
        decayed = (peak - self.end_learning_rate) * (1.0 - progress) ** self.power \
            + self.end_learning_rate
        return keras.ops.where(step < self.warmup_steps, warmup, decayed)

    def get_config(self):
        return {"peak_learning_rate": self.peak_learning_rate, "warmup_steps": self.warmup_steps,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power}
