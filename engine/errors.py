"""One base class for errors that mean bad input (a folder, a file, a spec, a job id): the CLI prints them as one line
and the pages as a message, never as a traceback. Torch-free."""


class UserError(Exception):
    """Something the user gave cannot be used; the message says what is wrong and what to do."""
