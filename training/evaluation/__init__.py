"""Scoring the artifact: every result file, the README block, the galleries, the samples and the screenshots."""
