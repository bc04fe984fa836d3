"""How encoder inputs are laid out: special tokens per layout and span-extraction defaults.

Plain constants (no TensorFlow), so configs can check lengths before anything heavy loads.
"""

# [CLS] text [SEP]
SINGLE_SPECIAL_TOKENS = 2
# [CLS] a [SEP] b [SEP] (sentence pairs; question + context)
PAIR_SPECIAL_TOKENS = 3
# A span-extraction row keeps at least this many context tokens after the question.
MIN_CONTEXT_TOKENS = 1
# Question tokens kept by default (BERT's SQuAD code: max_query_length 64).
MAX_QUERY_LENGTH = 64


def default_doc_stride(sequence_length: int, max_query_length: int) -> int:
    """Tokens between the starts of consecutive context windows when `doc_stride` is unset:
    half of the room a window has for the context, so consecutive windows overlap by half."""
    room = sequence_length - PAIR_SPECIAL_TOKENS - max_query_length
    return max(1, room // 2)
