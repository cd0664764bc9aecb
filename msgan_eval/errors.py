"""Errors that reach the user as one line and an exit code (never a traceback)."""


class UserError(Exception):
    """Bad input: a file, folder or option the user can fix. Exit code 2."""

    exit_code = 2


class WeightsUnavailable(UserError):
    """Pretrained weights could not be found, verified or downloaded. Exit code 3."""

    exit_code = 3
