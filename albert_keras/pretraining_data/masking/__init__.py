"""Masked-LM masking: one tensor function (`mask_tokens`) used on the fly by the reader and for
static records (`static_masks.py`), and its settings (`MaskingConfig`)."""
