"""Errors the CLI turns into one-line messages and exit codes."""


class MarlinError(Exception):
    """A failure the user can act on: printed as one line, exit code 1."""

    exit_code = 1


class UsageError(MarlinError):
    """Bad command-line input (an arch list, a scheme name, an output path): exit code 2."""

    exit_code = 2


class PluginError(MarlinError):
    """A plugin failed to load or broke the contract: exit code 3."""

    exit_code = 3
