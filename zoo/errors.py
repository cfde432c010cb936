"""The error hierarchy. Every `ZooError` carries a message a user can act on.

The CLI prints a `ZooError` as one line, `Error: ...`, and exits with code 2.
Any other exception is a bug and keeps its traceback.
"""


class ZooError(Exception):
    """Base class: a problem the user can fix (input, configuration, environment)."""

    exit_code = 2


class PluginError(ZooError):
    """A plugin is unknown, broken, conflicting, or breaks the contract."""


class DataError(ZooError):
    """Input data cannot be read or does not fit the task (names the file or field)."""


class ConfigError(ZooError):
    """A recipe key or command-line value is unknown or invalid."""


class WeightsError(ZooError):
    """Pretrained weights cannot be found, downloaded or loaded."""


class RunError(ZooError):
    """A run directory is missing, incomplete, or cannot be resumed."""


class ExportError(ZooError):
    """An export failed or its artifact failed verification."""
