"""One exception type for a user's mistake, so the CLI can print one line instead of a traceback."""


class UserError(Exception):
    """A problem with the user's input (a file, a key, a flag). Its message is the whole story."""
