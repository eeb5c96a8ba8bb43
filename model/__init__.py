"""Everything the app, the CLI and training share, in three layers imported in one direction.

`model.schema` (typed artifact files) <- `model.core` (decode, classify, guard, explain) <- `model.report` (wording,
translations, figures). `model.errors` holds the typed errors every layer raises; `tests/test_layers.py` enforces it.
"""
