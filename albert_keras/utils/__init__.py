"""Small helpers every stage uses (the lowest layer: imports nothing of the package)."""
