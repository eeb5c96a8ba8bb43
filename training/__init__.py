"""Data, training, evaluation and audit of the brain-MRI classifier (`python -m training --help`).

Three parts, by what each writes, importing one way (evaluation -> fitting -> data; `tests/test_layers.py`):
`training.data` lists, splits, outlines and renders the scans and caches their features; `training.fitting` trains
and writes the artifact (weights, card, calibration, guard, scan type, trust); `training.evaluation` scores it and
writes the result files, the README block, the galleries and the samples.
"""
