"""The fine-tuning tasks' inputs: labelled files read (`labeled.py`, `labeled_file_config.py`)
into typed examples (`labeled_examples.py`),
text cleaned and tokenized in TF ops (`text_preprocessor.py`, `word_packing.py`,
`span_packing.py`), encoded splits (`encoded_split.py`) batched (`labeled_batches.py`), and the
built-in topic task made from the standard library's docs (`stdlib_topics.py`)."""
