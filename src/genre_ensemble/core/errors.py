"""The exceptions whose message is one sentence for the user (ground floor: imports nothing).

Parameter errors have their own class, :class:`genre_ensemble.core.params.ParamsError`.

They live apart from the modules that raise them so that the stages' shared entry code can
catch them without importing (and so depending on) the audio and dataset code.
"""


class AudioError(Exception):
    """A file could not be turned into a usable signal; the message is the reason."""


class UndecodableError(AudioError):
    """No installed decoder recognises the file's format (neither libsndfile nor audioread)."""


class DatasetError(Exception):
    """The corpus folder cannot be used; the message names the path and the fix."""


class ModelsUnavailableError(Exception):
    """The trained members or the ensemble's weights are missing or do not fit params.yaml."""


class StageError(Exception):
    """A stage cannot go on; the message says what is wrong and how to fix it."""
