"""The one user-facing error type: the CLI prints it as a single line and exits 1."""


class UserError(Exception):
    pass
