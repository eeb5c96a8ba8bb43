"""Data, training, evaluation and audit of the brain-MRI classifier (`python -m training --help`)."""
