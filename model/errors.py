"""Typed errors: the library raises these, the UI turns each into one sentence."""

from __future__ import annotations


class BrainMRIError(Exception):
    """Base class of every error this project raises on purpose."""


class InputError(BrainMRIError):
    """An uploaded file could not be turned into an image the model can read."""


class EmptyFileError(InputError):
    pass


class UnsupportedFormatError(InputError):
    pass


class CorruptImageError(InputError):
    pass


class ImageTooLargeError(InputError):
    pass


class ImageTooSmallError(InputError):
    pass


class DicomError(InputError):
    pass


class ArtifactError(BrainMRIError):
    """The model artifact or the backbone weights are missing or not what they claim to be."""


class ChecksumMismatchError(ArtifactError):
    pass


class BackboneUnavailableError(ArtifactError):
    pass


class ArchiveError(InputError):
    """A .zip that is not one readable DICOM series, or that tries a zip bomb or a path trick."""
