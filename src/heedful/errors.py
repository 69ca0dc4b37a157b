"""Errors a user can cause; the CLI and web app show their message without a traceback."""

from __future__ import annotations


class HeedfulError(Exception):
    """Base class for errors with a message that tells the user what to do."""


class ConfigError(HeedfulError):
    """A setting, URL or option is wrong."""


class InputError(HeedfulError):
    """An input file or value cannot be used as given."""


class NotFoundError(HeedfulError):
    """A requested record (customer, survey, import…) does not exist."""


class NotFittedError(HeedfulError):
    """A model was used before `fit` was called."""


class StoreInUse(ConfigError):
    """The embedded database file is held by another process (typically `heedful serve`): the CLI then
    runs its command through that server (`heedful.local_server`)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
