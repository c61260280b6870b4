"""Expected failures: one line for a person, a hint, an exit code and an HTTP status.

Anything that is not a GristopsError is a bug: the CLI and the gateway log its
traceback and show a generic message.
"""

from __future__ import annotations


class GristopsError(Exception):
    """An expected failure with a one-line message and a hint on how to fix it."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(GristopsError):
    """The configuration file is missing, malformed or invalid."""

    exit_code = 2


class BadRequest(GristopsError):
    """The client sent something the gateway cannot act on."""

    http_status = 400
    exit_code = 2


class NotFound(GristopsError):
    """A document, table, column or record does not exist (or is not visible)."""

    http_status = 404
    exit_code = 3


class AuthError(GristopsError):
    """Missing, malformed or invalid credentials."""

    http_status = 401
    exit_code = 4


class Forbidden(GristopsError):
    """Valid credentials, but the role may not do this."""

    http_status = 403
    exit_code = 4


class TooManyRequests(GristopsError):
    """Throttled; retry after `retry_after` seconds."""

    http_status = 429
    exit_code = 5

    def __init__(self, message: str, hint: str = "", retry_after: int = 1) -> None:
        super().__init__(message, hint)
        self.retry_after = retry_after


class PayloadTooLarge(GristopsError):
    """The request body is over the configured limit."""

    http_status = 413
    exit_code = 2


class Unavailable(GristopsError):
    """A backend (Grist server, state DB, external program) is down or timed out."""

    http_status = 503
    exit_code = 6
