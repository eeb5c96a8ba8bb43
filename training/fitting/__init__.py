"""Fitting the artifact: configuration, the training stages, selection, calibration, export, guard, scan type, trust."""
