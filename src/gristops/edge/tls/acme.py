"""An ACME (RFC 8555) client for HTTP-01 through a webroot, on certbot's `acme` library.

The account key is an ECDSA P-256 key kept 0600 on disk; the account is
registered on first use and found again by its key afterwards. Challenges are
answered by writing the key authorization under
<webroot>/.well-known/acme-challenge/, which nginx serves over plain HTTP.
ACME Renewal Information (RFC 9773) is asked for only when the CA's directory
offers it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar, cast

import requests
import structlog
from acme import challenges, crypto_util, errors, messages
from acme import client as acme_lib
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwa import ES256
from josepy.jwk import JWKEC

from gristops.edge.tls.certs import private_key_file
from gristops.errors import AcmeError
from gristops.files import write_atomic

log = structlog.get_logger("gristops.tls")
USER_AGENT = "gristops"
ORDER_TIMEOUT = dt.timedelta(seconds=90)
T = TypeVar("T")


def _detail(exc: Exception) -> str:
    if isinstance(exc, errors.ValidationError):
        problems = [
            f"{authz.body.identifier.value}: {challenge.error}"
            for authz in exc.failed_authzrs
            for challenge in authz.body.challenges
            if challenge.error is not None
        ]
        return "; ".join(problems) or "a challenge failed"
    if isinstance(exc, messages.Error):
        return exc.detail or exc.typ
    return str(exc) or type(exc).__name__


class AcmeClient:
    """One account at one CA. Every failure is an AcmeError naming the step."""

    def __init__(
        self,
        directory_url: str,
        account_key: Path,
        *,
        email: str | None = None,
        ca_bundle: Path | None = None,
    ) -> None:
        self.directory_url = directory_url
        self.email = email
        try:
            private = serialization.load_pem_private_key(
                private_key_file(account_key), password=None
            )
        except (OSError, ValueError) as exc:
            raise AcmeError(
                f"cannot use the ACME account key {account_key}: {exc}",
                "check edge.acme_account_key and its permissions (a missing key is created)",
            ) from exc
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            raise AcmeError(
                f"the ACME account key {account_key} is not an ECDSA key",
                "move it away: a new one is made on the next run",
            )
        self._key = JWKEC(key=private)
        self._net = acme_lib.ClientNetwork(self._key, alg=ES256, user_agent=USER_AGENT)
        if ca_bundle is not None:
            # requests takes a CA bundle path where the library passes its verify flag.
            self._net.verify_ssl = cast(bool, str(ca_bundle))
        directory = self._step(
            "reading the ACME directory",
            lambda: acme_lib.ClientV2.get_directory(directory_url, self._net),
        )
        self._acme = acme_lib.ClientV2(directory, self._net)

    def _step(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except (errors.Error, messages.Error, requests.RequestException, OSError) as exc:
            raise AcmeError(
                f"ACME failed {what} at {self.directory_url}: {_detail(exc)}",
                "check acme_directory_url, that this machine reaches the CA, and that "
                "http://<domain>/.well-known/acme-challenge/ reaches this nginx",
            ) from exc

    def register(self) -> str:
        """Create the account (or find it by its key); returns its URL."""
        if self._net.account is not None:
            return str(self._net.account.uri)
        contact = (f"mailto:{self.email}",) if self.email else ()
        new = messages.NewRegistration(contact=contact, terms_of_service_agreed=True)
        try:
            regr = self._step("registering the account", lambda: self._acme.new_account(new))
        except AcmeError as exc:
            if not isinstance(exc.__cause__, errors.ConflictError):
                raise
            existing = messages.RegistrationResource(
                uri=exc.__cause__.location, body=messages.Registration()
            )
            self._net.account = existing
            regr = self._step(
                "reading the account", lambda: self._acme.query_registration(existing)
            )
        self._net.account = regr
        return str(regr.uri)

    def issue(self, names: tuple[str, ...], key_pem: bytes, webroot: Path) -> bytes:
        """Order a certificate for `names`, answer HTTP-01 in `webroot`; the full chain PEM."""
        csr = crypto_util.make_csr(key_pem, list(names))
        order = self._step("creating the order", lambda: self._acme.new_order(csr))
        written: list[Path] = []
        try:
            for authz in order.authorizations:
                if authz.body.status == messages.STATUS_VALID:
                    continue
                challenge = self._http01(authz)
                response, validation = challenge.response_and_validation(self._key)
                written.append(_publish(webroot, challenge.chall.encode("token"), validation))
                self._step(
                    f"answering the challenge for {authz.body.identifier.value}",
                    functools.partial(self._acme.answer_challenge, challenge, response),
                )
            deadline = dt.datetime.now() + ORDER_TIMEOUT
            done = self._step(
                "validating and finalizing the order",
                lambda: self._acme.poll_and_finalize(order, deadline),
            )
        finally:
            for path in written:
                path.unlink(missing_ok=True)
        if not done.fullchain_pem:
            raise AcmeError("the CA finalized the order without a certificate", "try again")
        return done.fullchain_pem.encode()

    def _http01(self, authz: messages.AuthorizationResource) -> messages.ChallengeBody:
        for challenge in authz.body.challenges:
            if isinstance(challenge.chall, challenges.HTTP01):
                return challenge
        raise AcmeError(
            f"the CA offers no HTTP-01 challenge for {authz.body.identifier.value}",
            "HTTP-01 is the only method gristops answers; wildcards need DNS-01",
        )

    def renewal_time(self, fullchain: bytes) -> dt.datetime | None:
        """When the CA's renewal info (ARI) says to renew; None when it offers none."""
        when, _next_check = self._step(
            "reading renewal information", lambda: self._acme.renewal_time(fullchain)
        )
        if when is None:
            return None
        return when if when.tzinfo else when.astimezone(dt.UTC)


def _publish(webroot: Path, token: str, validation: str) -> Path:
    """Write one challenge answer where nginx serves it (readable by its workers)."""
    directory = webroot / ".well-known" / "acme-challenge"
    path = directory / token
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(path, validation, 0o644)
    except OSError as exc:
        raise AcmeError(
            f"cannot write the challenge answer in {directory}: {exc.strerror}",
            "check that edge.acme_webroot exists and is writable by the gristops user",
        ) from exc
    log.debug("challenge published", path=str(path))
    return path
