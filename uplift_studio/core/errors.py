"""The one error type for bad input, so the CLI and the app can catch exactly it and nothing else."""


class DataError(ValueError):
    """Bad input (file, column, value or setting). The message names the culprit and says how to fix it."""
