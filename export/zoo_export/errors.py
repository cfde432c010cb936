"""Errors of the export package. The `zoo` CLI prints them on one line and exits 2."""


class ExportError(Exception):
    """An export failed, or its artifact failed verification. The message says what to try."""

    exit_code = 2


class MissingDependencyError(ExportError):
    """An optional converter or runtime is not installed; the message names the pip install."""
