"""Typed errors: the library raises these, the UI turns each into one sentence."""

from __future__ import annotations


class BrainMRIError(Exception):
    """Base class of every error this project raises on purpose.

    `template` is the English message with {placeholders} and `details` fill them: `str(error)` reads in
    English, and the app shows `template` translated with the same details (`pages/shared/layout.py`).
    """

    def __init__(self, template: str, **details: object):
        self.template, self.details = template, details
        super().__init__(template.format(**details) if details else template)

    def __reduce__(self):  # keeps the details through pickling (caches, worker processes)
        return _rebuild, (type(self), self.template, self.details)


def _rebuild(kind: type[BrainMRIError], template: str, details: dict[str, object]) -> BrainMRIError:
    return kind(template, **details)


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


class SaliencyUnavailableError(BrainMRIError):
    """A map that needs TensorFlow could not be drawn: its worker process did not start or stopped."""


class ArchiveError(InputError):
    """A .zip that is not one readable DICOM series, or that tries a zip bomb or a path trick."""


class VolumeError(InputError):
    """A NIfTI volume that cannot be read as one 3-D grey-value volume, or that is too large to read."""
