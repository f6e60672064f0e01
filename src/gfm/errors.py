"""User-facing errors.

Every problem a user can fix (a missing file, a wrong checkpoint, a bad size)
raises a subclass of :class:`GFMError` whose message says what was wrong and
what to do. The command line prints that message on one line and exits
non-zero; library users can catch the specific class.
"""

from __future__ import annotations


class GFMError(Exception):
    """Base class of every error the user can act on."""


class CheckpointError(GFMError):
    """A checkpoint file is missing, unreadable, unsafe or of another variant."""


class InputError(GFMError):
    """An input tensor, image or file is not what the function needs."""


class ImageTooLargeError(InputError):
    """An image has more pixels than the limit in force (read from its header, before decoding)."""


class ConfigError(GFMError):
    """A configuration value is unknown, of the wrong type or inconsistent."""


class WeightsNotFoundError(CheckpointError):
    """Released weights are not in the local cache (and were not downloaded)."""


class OutputError(GFMError):
    """An output file cannot be written (folder not writable, disk full, bad suffix)."""
