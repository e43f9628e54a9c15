"""Typed errors with stable codes; one API handler maps them to HTTP."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal the caller can act on. `code` is stable; `message` is for people."""

    status = 400
    # Seconds after which a retry may succeed (sent as Retry-After), when known.
    retry_after: int | None = None

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """The request is malformed or out of range."""

    status = 422


class NotFound(DomainError):
    """The thing does not exist, or is not yours to see."""

    status = 404


class Conflict(DomainError):
    """The request clashes with the current state."""

    status = 409


class Forbidden(DomainError):
    """You are signed in but not allowed to do this."""

    status = 403


class Unauthorized(DomainError):
    """You are not signed in, or your token is wrong."""

    status = 401


class TooManyRequests(DomainError):
    """Slow down and try again later (after `retry_after` seconds)."""

    status = 429

    def __init__(self, code: str, message: str, field: str | None = None, retry_after: int = 60) -> None:
        super().__init__(code, message, field)
        self.retry_after = retry_after


class TooLarge(DomainError):
    """The upload or file is larger than the limit for it; nothing was kept."""

    status = 413


class UnsupportedType(DomainError):
    """The upload is not one of the file types accepted there (read from its bytes); nothing was kept."""

    status = 415


class ExternalUnavailable(Exception):
    """An outside service (issuer, rail, identity) did not answer in time or failed.

    The outcome of the call is unknown: ask the other side for status before retrying.
    """


class ExternalTimedOut(ExternalUnavailable):
    """The outside service did not answer in time (the issuer guard counts these apart)."""
