"""Every expected failure of gristops, with its exit code and HTTP status: the one table.

An expected failure is a `GristopsError`: one line for a person, a hint on how
to fix it, the CLI's exit code and the gateway's HTTP status. Anything else is
a bug: the CLI and the gateway log its traceback and show a generic message
(exit code 70).

Each exit code has one meaning (the README lists them):

| code | meaning                                                         |
|------|-----------------------------------------------------------------|
| 0    | success                                                         |
| 1    | the operation failed (a batch names each item that failed)      |
| 2    | usage or configuration error: fix the command or gristops.yaml  |
| 3    | not found: a document, snapshot, release or record              |
| 4    | not authenticated, or not allowed                               |
| 5    | busy: another run holds the lock, or throttled; try again later |
| 6    | unavailable: a server, target or external program did not answer|
| 7    | refused: data, a certificate or a release failed verification;  |
|      | what is live was left as it was                                 |
| 70   | internal error (a bug): the log has the traceback               |
| 130  | interrupted (Ctrl-C)                                            |
"""

from __future__ import annotations

FAILED = 1
USAGE = 2
NOT_FOUND = 3
NOT_ALLOWED = 4
BUSY = 5
UNAVAILABLE = 6
REFUSED = 7
INTERNAL = 70
INTERRUPTED = 130


class GristopsError(Exception):
    """An expected failure with a one-line message and a hint on how to fix it."""

    exit_code = FAILED
    http_status = 500

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


# -- 1: the operation failed ----------------------------------------------------


class BackupFailed(GristopsError):
    """At least one target did not get the snapshot."""


class JobFailed(GristopsError):
    """A job run with `gristops agent --job` did not succeed."""


class SqliteCopyError(GristopsError):
    """A live SQLite file could not be copied or checked."""


class SwapError(GristopsError):
    """The live document could not be replaced; it is unchanged."""


class LoadtestFailed(GristopsError):
    """A load test missed a threshold or its baseline, or its target did not answer."""


class AcmeError(GristopsError):
    """The CA refused or failed an ACME step; the message carries the CA's own words."""


class TlsFailed(GristopsError):
    """At least one certificate could not be obtained; the others were still handled."""


class ReconcileFailed(GristopsError):
    """A gitops pass could not fetch, render, check or apply the desired state, or found
    drift it was not told to revert; what is live was left as it was."""


# -- 2: usage or configuration ---------------------------------------------------


class ConfigError(GristopsError):
    """The configuration file is missing, malformed or invalid."""

    exit_code = USAGE


class BadRequest(GristopsError):
    """The client sent something the gateway cannot act on."""

    http_status = 400
    exit_code = USAGE


class PayloadTooLarge(GristopsError):
    """The request body is over the configured limit."""

    http_status = 413
    exit_code = USAGE


class NginxConfigError(GristopsError):
    """nginx refused a rendered configuration; the live one was left in place."""

    exit_code = USAGE


# -- 3: not found -----------------------------------------------------------------


class NotFound(GristopsError):
    """A document, table, column or record does not exist (or is not visible)."""

    http_status = 404
    exit_code = NOT_FOUND


class NothingToRollBack(GristopsError):
    """No previous release is installed in the idle slot."""

    exit_code = NOT_FOUND


# -- 4: not authenticated or not allowed ---------------------------------------------


class AuthError(GristopsError):
    """Missing, malformed or invalid credentials."""

    http_status = 401
    exit_code = NOT_ALLOWED


class ExpiredToken(AuthError):
    """A well-signed access token past its `exp`."""


class Forbidden(GristopsError):
    """Valid credentials, but the role may not do this."""

    http_status = 403
    exit_code = NOT_ALLOWED


# -- 5: busy or throttled ----------------------------------------------------------------


class TooManyRequests(GristopsError):
    """Throttled; retry after `retry_after` seconds."""

    http_status = 429
    exit_code = BUSY

    def __init__(self, message: str, hint: str = "", retry_after: int = 1) -> None:
        super().__init__(message, hint)
        self.retry_after = retry_after


class BackupBusy(GristopsError):
    """Another backup run or prune holds the lock."""

    exit_code = BUSY


class DeployBusy(GristopsError):
    """Another deploy or rollback holds the deploy lock."""

    exit_code = BUSY


class ReconcileBusy(GristopsError):
    """Another gitops pass holds the gitops lock."""

    exit_code = BUSY


# -- 6: unavailable ---------------------------------------------------------------------


class Unavailable(GristopsError):
    """A backend (Grist server, state DB, external program) is down or timed out.

    `retry_after`: seconds a client should wait before trying again (the gateway's
    503 answers carry it as Retry-After).
    """

    http_status = 503
    exit_code = UNAVAILABLE

    def __init__(self, message: str, hint: str = "", retry_after: int = 1) -> None:
        super().__init__(message, hint)
        self.retry_after = retry_after


class StorageFull(Unavailable):
    """The disk (or quota) under the data folder is full: nothing was written."""

    http_status = 507


def disk_full(exc: BaseException) -> bool:
    """True for SQLite's SQLITE_FULL or the system's ENOSPC/EDQUOT."""
    code: int = getattr(exc, "sqlite_errorcode", 0)
    return code & 0xFF == 13 or getattr(exc, "errno", None) in (
        28,
        122,
    )  # SQLITE_FULL, ENOSPC, EDQUOT


class ExternalProgramError(GristopsError):
    """An external program failed, timed out or could not be started."""

    exit_code = UNAVAILABLE
    http_status = 503


class TargetError(GristopsError):
    """A backup target could not store, read, list or delete a blob."""

    exit_code = UNAVAILABLE
    http_status = 503


class TargetFull(TargetError):
    """The target ran out of space (or quota) while storing a blob."""


class BlobNotFound(TargetError, NotFound):
    """The key does not exist on the target."""

    exit_code = NOT_FOUND
    http_status = 404


# -- 7: refused after a failed verification ------------------------------------------------


class SnapshotDamaged(GristopsError):
    """A snapshot failed verification: restore refuses it."""

    exit_code = REFUSED


class CorruptBlob(GristopsError):
    """A blob of the archive cannot be decrypted or decompressed, or has the wrong content."""

    exit_code = REFUSED


class PruneRefused(GristopsError):
    """A manifest could not be read, so no chunk can safely be deleted."""

    exit_code = REFUSED


class CertificateError(GristopsError):
    """A certificate or key is unreadable, or a new one failed validation."""

    exit_code = REFUSED


class DeployFailed(GristopsError):
    """A release failed its health gates or watch window and was rolled back."""

    exit_code = REFUSED


class CommitRefused(GristopsError):
    """A commit lacks a good signature, or its deploy was rolled back: it is not applied."""

    exit_code = REFUSED
