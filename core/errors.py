"""Errors the user can fix: the CLI prints them on one line and exits with code 2."""


class UserError(Exception):
    """A problem with the user's input, named together with the fix; never shown as a traceback."""

    exit_code = 2


class ConfigError(UserError):
    """A bad configuration key or value."""


class InputError(UserError):
    """Unreadable, empty or malformed input (clip, image folder, camera, annotation file)."""


class ModelError(UserError):
    """A missing or mismatched model file (checkpoint, ONNX, engine, VLM directory)."""
