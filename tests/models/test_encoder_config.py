import math
import dataclasses

import pytest

from albert_keras import PRESETS, Encoder, EncoderConfig

PUBLISHED = {
    "albert_base": 11_683_584,
    "albert_large": 17_683_968,
    "albert_xlarge": 58_724_864,
    "albert_xxlarge": 222_595_584,
    "bert_base": 109_482_240,
    "bert_large": 335_141_888,
}


@pytest.mark.parametrize("name,expected", sorted(PUBLISHED.items()))
def test_preset_parameter_counts_equal_published(name, expected):
    assert EncoderConfig.preset(name).num_parameters() == expected


# ALBERT paper (arXiv:1909.11942) Table 3 (E x all-shared / not-shared) and Table 4 (shared
# attention / FFN), ALBERT-base sizes, in printed millions. The paper counts the backbone without
# the pooler and does not round one way: not-shared rows are rounded down (BERT-base: 108.49M ->
# "108M"), shared rows up (ALBERT-base: 11.09M -> "12M"). So the printed figure must be the floor
# or the ceiling of our exact count; being a million off anywhere fails.
PAPER_TABLES = [
    (64, "none", 87), (128, "none", 89), (256, "none", 93), (768, "none", 108),
    (64, "all", 10), (128, "all", 12), (256, "all", 16), (768, "all", 31),
    (128, "attention", 64), (128, "ffn", 38), (768, "attention", 83), (768, "ffn", 57),
]


@pytest.mark.parametrize("embedding_dim,share,millions", PAPER_TABLES)
def test_albert_paper_tables_3_and_4(embedding_dim, share, millions):
    config = EncoderConfig.preset("albert_base", embedding_dim=embedding_dim, share=share)
    pooler = config.hidden_dim * config.hidden_dim + config.hidden_dim
    exact = (config.num_parameters() - pooler) / 1e6
    assert millions in (math.floor(exact), math.ceil(exact)), exact


@pytest.mark.parametrize("share,num_groups,embedding_dim", [
    ("none", 1, None), ("all", 1, 8), ("all", 2, 8), ("attention", 1, 8), ("ffn", 1, None)])
def test_counted_parameters_match_built_encoder(share, num_groups, embedding_dim):
    config = EncoderConfig(vocabulary_size=37, num_layers=4, num_heads=2, hidden_dim=12,
                           intermediate_dim=20, embedding_dim=embedding_dim,
                           max_sequence_length=11, num_segments=3, share=share,
                           num_groups=num_groups)
    assert Encoder(**config.to_dict()).count_params() == config.num_parameters()


def test_albert_count_does_not_change_with_num_layers():
    counts = {EncoderConfig.preset("albert_base", num_layers=n).num_parameters() for n in (1, 12, 48)}
    assert counts == {PUBLISHED["albert_base"]}


def test_every_preset_is_valid_and_frozen():
    for name in PRESETS:
        config = EncoderConfig.preset(name)
        with pytest.raises(dataclasses.FrozenInstanceError):
            config.hidden_dim = 1
    assert EncoderConfig.preset("bert_base").activation == "gelu"
    assert EncoderConfig.preset("albert_base").activation == "gelu_approximate"
    assert EncoderConfig.preset("albert_base").dropout == 0.0


@pytest.mark.parametrize("overrides,message", [
    (dict(hidden_dim=10, num_heads=3), "`hidden_dim` must be divisible by `num_heads`. "
                                       "Received: hidden_dim=10, num_heads=3"),
    (dict(share="some"), "share='some'"),
    (dict(activation="relu"), "activation='relu'"),
    (dict(num_layers=0), "num_layers=0"),
    (dict(dropout=1.5), "dropout=1.5"),
    (dict(num_layers=12, num_groups=5), "num_layers=12, num_groups=5"),
    (dict(share="none", num_groups=2), "num_groups=2, share='none'"),
    (dict(embedding_dim=-1), "embedding_dim=-1"),
])
def test_bad_values_name_the_argument(overrides, message):
    with pytest.raises(ValueError, match=None) as error:
        EncoderConfig.preset("albert_base", **overrides)
    assert message in str(error.value)


def test_unknown_names_are_errors():
    with pytest.raises(ValueError, match="hidden_size"):
        EncoderConfig.preset("bert_base", hidden_size=12)
    with pytest.raises(ValueError, match="name='bert_huge'"):
        EncoderConfig.preset("bert_huge")
