"""The HTTP layer under the Nextcloud client: one session, timeouts, retries, no secrets.

Every request of the client goes through :meth:`Transport.request`, also those that webdav3
builds (:mod:`.webdav` hands it a view of the transport instead of a session of its own), so
one set of rules covers all traffic: a timeout on every request, retries with backoff for what
a retry can fix, no redirects, credentials only here, and the password scrubbed from every
message, log line and exception. Bodies streamed from disk (:class:`~.streaming.FileSlice`)
are sent again from their start on each retry.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import requests

from .errors import NextcloudError, NextcloudUnavailableError
from .settings import NextcloudSettings
from .streaming import FileSlice

__all__ = ["DEFAULT_LOG", "DEFAULT_POLICY", "RequestPolicy", "Transport"]

DEFAULT_LOG = logging.getLogger("adata_hf_datasets.nextcloud")
"""Where the client logs when the caller passes no logger (a job passes its own)."""

# 429 and 5xx are retried, except the 5xx that retrying cannot fix (507: quota exceeded, ...).
_RETRY_STATUSES = frozenset({429, *range(500, 600)}) - {501, 505, 507, 508, 510, 511}
_TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass(frozen=True)
class RequestPolicy:
    """How every request is made (the config's ``nextcloud_config.timeout_s`` and ``attempts``).

    Attributes
    ----------
    timeout
        Seconds for connecting and for each read (a request may ask for a longer read).
    attempts
        Tries per request (>= 1) on connection errors, timeouts, 429 and 5xx.
    backoff
        First retry delay in seconds; doubles per retry (capped at 60 s, 10 % jitter).
    """

    timeout: float = 60.0
    attempts: int = 5
    backoff: float = 1.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.timeout <= 0 or self.backoff < 0:
            raise ValueError(f"timeout must be > 0 and backoff >= 0, got {self}")


DEFAULT_POLICY = RequestPolicy()


class Transport:
    """A ``requests`` session for one account, with the client's rules for every request.

    Parameters
    ----------
    settings
        Connection settings; the session authenticates with them (basic auth).
    policy
        Timeout, tries and backoff of every request.
    log
        Logger for retries.
    context
        What the requests are for (the chunk), named in every error message.
    """

    def __init__(
        self,
        settings: NextcloudSettings,
        policy: RequestPolicy = DEFAULT_POLICY,
        *,
        log: logging.Logger | None = None,
        context: str = "",
    ) -> None:
        self.settings = settings
        self.username = settings.username
        self.timeout = float(policy.timeout)
        self.attempts = int(policy.attempts)
        self.backoff = float(policy.backoff)
        self.log = log or DEFAULT_LOG
        self.context = context
        self.session = requests.Session()
        self.session.auth = (settings.username, settings.password)
        self.session.headers["User-Agent"] = "adata-hf-datasets"
        self._secrets = _secret_forms(settings.username, settings.password)

    def close(self) -> None:
        self.session.close()

    # -- messages

    @property
    def where(self) -> str:
        """`` for chunk X`` when the context is known, for messages and log lines."""
        return f" for chunk {self.context}" if self.context else ""

    def scrub(self, text: str) -> str:
        """Text with every form of the password (plain, URL-quoted, basic-auth) replaced."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def error(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        cls: type[NextcloudError] = NextcloudError,
    ) -> NextcloudError:
        """A :class:`NextcloudError` naming the chunk, with the message scrubbed."""
        return cls(self.scrub(message), chunk=self.context or None, url=url, status=status)

    def status_error(
        self, what: str, method: str, url: str, resp: requests.Response
    ) -> NextcloudError:
        """The error for an answer with an unexpected status: URL, status, server's reason."""
        detail = _server_message(resp)
        if resp.is_redirect:
            detail = (
                f"redirected to {resp.headers.get('Location', '?')}; set nextcloud_config.url "
                "to the address the server redirects to (e.g. https://)"
            )
        return self.error(
            f"Nextcloud {what}{self.where} failed: {method} {url} -> HTTP {resp.status_code}"
            f" {resp.reason or ''}".rstrip()
            + (f"; server said: {detail}" if detail else ""),
            url=url,
            status=resp.status_code,
        )

    def backoff_delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based), before any jitter."""
        return min(self.backoff * 2 ** (attempt - 1), 60.0)

    # -- the one place that talks HTTP

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
        attempts: int | None = None,
    ) -> requests.Response:
        """Send one request with retries; return the answer unless it failed for good.

        ``data`` is sent again on every attempt, so it must be replayable: bytes, text, a form
        (mapping) or a :class:`FileSlice`. ``timeout`` overrides the read timeout. 401/403
        raise at once (credentials rejected); connection errors, timeouts, 429 and 5xx (but
        501/505/507/508/510/511) are retried with exponential backoff (or the server's
        ``Retry-After``), then raise :class:`NextcloudUnavailableError`. Redirects are not
        followed. Every message is scrubbed of the password.
        """
        if data is not None and not isinstance(data, (bytes, bytearray, str, Mapping, FileSlice)):
            raise TypeError(f"a {type(data).__name__} request body cannot be replayed on retry")
        attempts = self.attempts if attempts is None else attempts
        read_timeout = self.timeout if timeout is None else timeout
        problem, status = "", None
        for attempt in range(1, attempts + 1):
            retry_after = ""
            try:
                resp = self.session.request(
                    method,
                    url,
                    data=data,
                    headers=dict(headers or {}),
                    params=params,
                    timeout=(self.timeout, read_timeout),
                    allow_redirects=False,
                )
            except _TRANSIENT_ERRORS as exc:
                problem, status = f"{type(exc).__name__}: {exc}", None
            except requests.RequestException as exc:
                raise self.error(
                    f"Nextcloud {what}{self.where} failed: {method} {url} -> "
                    f"{type(exc).__name__}: {exc}",
                    url=url,
                ) from None
            else:
                if resp.status_code in (401, 403):
                    raise self._rejected(what, method, url, resp) from None
                if resp.status_code not in _RETRY_STATUSES:
                    return resp
                status = resp.status_code
                detail = _server_message(resp)
                problem = f"HTTP {status} {resp.reason or ''}".rstrip()
                problem += f" ({detail})" if detail else ""
                retry_after = resp.headers.get("Retry-After", "")
                resp.close()
            finally:
                if isinstance(data, FileSlice):
                    data.close()
            if attempt < attempts:
                delay = self.backoff_delay(attempt)
                delay += random.uniform(0, delay / 10)
                if retry_after.isdigit():  # the server says when to come back (429, 503)
                    delay = max(delay, min(float(retry_after), 60.0))
                self.log.warning(
                    "%s%s: %s %s -> %s; attempt %d/%d, retrying in %.2f s",
                    what,
                    self.where,
                    method,
                    url,
                    self.scrub(problem),
                    attempt,
                    attempts,
                    delay,
                )
                time.sleep(delay)
        raise self.error(
            f"Nextcloud {what}{self.where} failed after {attempts} attempt(s): "
            f"{method} {url} -> {problem}",
            url=url,
            status=status,
            cls=NextcloudUnavailableError,
        ) from None

    def _rejected(self, what: str, method: str, url: str, resp: requests.Response):
        detail = _server_message(resp)
        resp.close()
        return self.error(
            f"Nextcloud rejected the credentials for user '{self.username}' "
            f"(HTTP {resp.status_code}) during {what}{self.where}: {method} {url}"
            + (f"; server said: {detail}" if detail else "")
            + (" (or the account may not do this)" if resp.status_code == 403 else "")
            + ". Check nextcloud_config.username and the password variable "
            "(an app password is recommended).",
            url=url,
            status=resp.status_code,
        )


def _secret_forms(username: str, password: str) -> list[str]:
    if not password:
        return []
    forms = {
        password,
        quote(password, safe=""),
        quote_plus(password),
        base64.b64encode(f"{username}:{password}".encode()).decode(),
    }
    return sorted(forms, key=len, reverse=True)


def _server_message(resp: requests.Response) -> str:
    """A short, printable reason from an error answer (OCS message, or start of the body)."""
    try:
        text = resp.text
    except Exception:
        return ""
    try:
        message = json.loads(text)["ocs"]["meta"]["message"]
        if message:
            return str(message)[:200]
    except (ValueError, KeyError, TypeError):
        pass
    match = re.search(r"<s:message>(.*?)</s:message>", text, re.S)  # Sabre error XML
    if match:
        return match.group(1).strip()[:200]
    text = " ".join(text.split())
    if text.startswith("<"):
        return ""
    return text[:200]
