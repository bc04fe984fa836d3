"""The `albert-keras presets` table: the ALBERT paper's Table 1, computed from our configs."""

from __future__ import annotations

from albert_keras.models.encoder_config import PRESETS, SHARE_MODES, EncoderConfig


def preset_rows() -> list[dict]:
    """One row per preset and sharing mode: sizes, parameters and fp32 weight memory."""
    rows = []
    for name in PRESETS:
        preset = EncoderConfig.preset(name)
        for share in SHARE_MODES:
            config = preset.replace(share=share)
            parameters = config.num_parameters()
            rows.append({
                "preset": name, "share": share, "published": share == preset.share,
                "num_layers": config.num_layers, "hidden_dim": config.hidden_dim,
                "embedding_dim": config.effective_embedding_dim,
                "parameters": parameters, "fp32_megabytes": parameters * 4 / 2**20,
            })
    return rows


def format_preset_table() -> str:
    """A plain-text table of `preset_rows()`; `*` marks each preset's published sharing."""
    header = ("preset", "share", "layers", "hidden", "E", "parameters", "fp32 weights")
    lines = [header]
    for row in preset_rows():
        lines.append((row["preset"], row["share"] + (" *" if row["published"] else ""),
                      str(row["num_layers"]), str(row["hidden_dim"]), str(row["embedding_dim"]),
                      f"{row['parameters']:,}", f"{row['fp32_megabytes']:,.1f} MiB"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(line, widths))) for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    text.append("* = the preset's published sharing. Parameters include the pooler, no heads.")
    return "\n".join(text)
