"""Stage 2 of the pretraining data: tokenized documents (`TokenizedCorpus`) -> NSP or SOP
sentence pairs (`create_pairs`), each document's pairs drawn with its own seeded generator."""
