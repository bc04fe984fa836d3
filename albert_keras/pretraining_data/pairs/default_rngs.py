"""`default_rngs`: many `np.random.default_rng([*prefix, index])` generators, made cheaply.

The pairs draw each document's random choices from its own generator seeded with
`(seed, pass, document)`, so the result does not depend on how the documents are split
between processes or Beam workers. Making that generator costs ~40 us in numpy (hashing the
seed with `SeedSequence`, then seeding `PCG64`), more than the document's own work. Here the
`SeedSequence` hash runs for all documents at once on uint32 arrays and each generator is one
`PCG64` state assignment (~3 us): the same streams, bit for bit (checked against numpy in
`tests/pretraining_data/pairs/test_default_rngs.py`). The algorithms are numpy's, which keeps
them stable across releases (NEP 19): `SeedSequence.mix_entropy` / `generate_state` and
PCG64's `set_seed`.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import numpy as np

_M32 = 0xFFFFFFFF
_M128 = (1 << 128) - 1
_POOL_SIZE = 4
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875  # SeedSequence's hash constants.
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715
_XSHIFT = np.uint32(16)
_PCG_MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341


def default_rngs(prefix: Sequence[int], indices: Iterable[int]) -> Iterator[np.random.Generator]:
    """Yields, for each index, a generator in the state of `default_rng([*prefix, index])`.

    Args:
        prefix: sequence of non-negative int. The seed's first entries (e.g. `(seed, pass)`).
        indices: iterable of int in `[0, 2**32)`. The last entry of each seed.

    Yields:
        One `np.random.Generator`, re-seeded before each yield: use it before the next one.

    Example:
    ```python
    for index, rng in zip(range(3), default_rngs([12345, 0], range(3))):
        assert rng.random() == np.random.default_rng([12345, 0, index]).random()
    ```
    """
    indices = np.fromiter(indices, np.int64)
    if len(indices) and (indices.min() < 0 or indices.max() > _M32):
        raise ValueError("`indices` must be in [0, 2**32). Received: "
                         f"min={indices.min()}, max={indices.max()}")
    generator = np.random.Generator(np.random.PCG64())
    bit_generator = generator.bit_generator
    for state, increment in _pcg64_states(prefix, indices.astype(np.uint32)):
        bit_generator.state = {"bit_generator": "PCG64",
                               "state": {"state": state, "inc": increment},
                               "has_uint32": 0, "uinteger": 0}
        yield generator


def _pcg64_states(prefix: Sequence[int], indices: np.ndarray) -> list[tuple[int, int]]:
    """PCG64 `(state, inc)` of `PCG64(SeedSequence([*prefix, index]))` for every index."""
    columns = [np.full(len(indices), word, np.uint32)
               for value in prefix for word in _uint32_words(int(value))]
    columns.append(indices)  # (documents,) uint32 each: the entropy words.
    words = _generate_state(_mix_entropy(columns, len(indices)), 2 * _POOL_SIZE)
    # `generate_state(4, np.uint64)`: little-endian pairs of words -> seed (2), increment (2).
    halves = [(words[2 * k].astype(np.uint64) | (words[2 * k + 1].astype(np.uint64) << 32))
              .tolist() for k in range(4)]
    states = []
    for seed_high, seed_low, inc_high, inc_low in zip(*halves):
        increment = ((((inc_high << 64) | inc_low) << 1) | 1) & _M128
        state = (increment + ((seed_high << 64) | seed_low)) & _M128  # step from 0, add seed
        states.append(((state * _PCG_MULTIPLIER + increment) & _M128, increment))  # step
    return states


def _mix_entropy(columns: list[np.ndarray], count: int) -> list[np.ndarray]:
    """`SeedSequence.mix_entropy`: the 4-word pool, one array of `count` per word."""
    hash_const = [_INIT_A]

    def hashmix(value: np.ndarray) -> np.ndarray:
        value = value ^ np.uint32(hash_const[0])
        hash_const[0] = (hash_const[0] * _MULT_A) & _M32
        value = value * np.uint32(hash_const[0])
        return value ^ (value >> _XSHIFT)

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        result = np.uint32(_MIX_MULT_L) * x - np.uint32(_MIX_MULT_R) * y
        return result ^ (result >> _XSHIFT)

    zeros = np.zeros(count, np.uint32)
    mixer = [hashmix(columns[i] if i < len(columns) else zeros) for i in range(_POOL_SIZE)]
    for source in range(_POOL_SIZE):
        for target in range(_POOL_SIZE):
            if source != target:
                mixer[target] = mix(mixer[target], hashmix(mixer[source]))
    for source in range(_POOL_SIZE, len(columns)):
        for target in range(_POOL_SIZE):
            mixer[target] = mix(mixer[target], hashmix(columns[source]))
    return mixer


def _generate_state(pool: list[np.ndarray], num_words: int) -> list[np.ndarray]:
    """`SeedSequence.generate_state(num_words, np.uint32)`, one array per word."""
    hash_const = _INIT_B
    words = []
    for i in range(num_words):
        value = pool[i % _POOL_SIZE] ^ np.uint32(hash_const)
        hash_const = (hash_const * _MULT_B) & _M32
        value = value * np.uint32(hash_const)
        words.append(value ^ (value >> _XSHIFT))
    return words


def _uint32_words(value: int) -> list[int]:
    """numpy's `_int_to_uint32_array`: little-endian 32-bit words, `[0]` for 0."""
    if value < 0:
        raise ValueError(f"Seed entries must be non-negative. Received: {value}")
    words = [] if value else [0]
    while value:
        words.append(value & _M32)
        value >>= 32
    return words
