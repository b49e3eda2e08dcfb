"""The one exception type a user should see as a message, never as a traceback."""


class BenchError(Exception):
    """A problem with the user's input or environment. The CLI prints it on one line, exit 2.

    Library code raises it (or a subclass) for anything the user can fix: missing data, a bad
    option value, an unknown registry name, a corrupt checkpoint they must delete.
    """

    exit_code = 2
