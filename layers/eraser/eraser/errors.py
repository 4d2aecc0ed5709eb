"""The domain's errors. Each API family renders them in its own envelope (see ``eraser.api``), by type, never by text."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class EraserError(Exception):
    """Base of every error the domain raises on purpose."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


# --- authentication and authorization -------------------------------------------------------------------------------
class AuthError(EraserError):
    pass


class MissingCredentials(AuthError):
    def __init__(self) -> None:
        super().__init__("No API key or bearer token was provided")


class InvalidCredentials(AuthError):
    def __init__(self, reason: str = "The credentials provided are not valid") -> None:
        super().__init__(reason)


class ExpiredCredentials(AuthError):
    def __init__(self) -> None:
        super().__init__("The credentials provided have expired")


class ScopeNotGranted(AuthError):
    def __init__(self, scope: str) -> None:
        super().__init__(f"The scope '{scope}' has not been granted to these credentials", scope=scope)
        self.scope = scope


class OrganizationSuspended(AuthError):
    def __init__(self) -> None:
        super().__init__("The organization is suspended")


class OrganizationNotActivated(AuthError):
    def __init__(self) -> None:
        super().__init__("The organization has not been activated yet")


class SignatureDoesNotMatch(AuthError):
    def __init__(self) -> None:
        super().__init__("The request signature we calculated does not match the signature you provided. Check your "
                         "key and signing method.")


class AuthorizationMalformed(AuthError):
    """A SigV4 signature that cannot be checked: a malformed credential, a wrong region or service in its scope."""


class AuthorizationHeaderMalformed(AuthorizationMalformed):
    pass


class AuthorizationQueryParametersError(AuthorizationMalformed):
    """The pre-signed URL form of ``AuthorizationHeaderMalformed``."""


class RequestTimeTooSkewed(AuthError):
    def __init__(self, request_time: datetime, server_time: datetime) -> None:
        super().__init__("The difference between the request time and the current time is too large.",
                         request_time=request_time.isoformat(), server_time=server_time.isoformat())


class SignatureAccessDenied(AuthError):
    """A signed request S3 would refuse with ``AccessDenied``: an expired pre-signed URL, unsigned x-amz-* headers."""


class PermissionDenied(AuthError):
    def __init__(self, reason: str = "The authenticated identity is not permitted to perform this action") -> None:
        super().__init__(reason)


# --- lookups ---------------------------------------------------------------------------------------------------------
class NotFound(EraserError):
    pass


class OrganizationNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No organization was found matching the criteria provided")


class BucketNotFound(NotFound):
    """Also raised for a bucket of another organization: the two must be indistinguishable."""

    def __init__(self, bucket: str) -> None:
        super().__init__(f"Bucket '{bucket}' not found", bucket=bucket)
        self.bucket = bucket


class NoSuchKey(NotFound):
    def __init__(self, key: str) -> None:
        super().__init__("The specified key does not exist.", key=key)


class TaskNotFound(NotFound):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"Task '{task_id}' not found", task_id=task_id)


# --- request problems ------------------------------------------------------------------------------------------------
class ValidationFailed(EraserError):
    """The request is malformed. ``errors`` is a list of ``{"loc": [...], "msg": str, "type": str}``."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or [{"loc": ["body"], "msg": message, "type": "value_error"}]


class MalformedJson(ValidationFailed):
    """A body (or a page token) that is not a JSON document this service will read: not UTF-8, malformed, too deeply
    nested, a number with too many digits, a member given twice. ``kind`` says which (``json_invalid``,
    ``json_too_deep``, ``json_number_too_large``, ``json_duplicate_field``, ``body_not_utf8``)."""

    def __init__(self, kind: str, message: str, location: str = "body") -> None:
        super().__init__(message, [{"loc": [location], "msg": message, "type": kind}])
        self.kind = kind


class InvalidArgument(ValidationFailed):
    """S3's ``InvalidArgument`` (a malformed version id, MFA or header)."""


class KeyTooLong(ValidationFailed):
    """S3's ``KeyTooLongError``: an object key longer than 1024 bytes of UTF-8."""

    def __init__(self, size: int) -> None:
        super().__init__("Your key is too long")
        self.size = size


class RequestTooLarge(ValidationFailed):
    """More work than one synchronous request may do."""


class InvalidPageToken(ValidationFailed):
    """A page token that this service did not issue for this listing (tampered, truncated or another bucket's)."""

    def __init__(self) -> None:
        super().__init__("Invalid page_token", [{"loc": ["query", "page_token"], "msg": "Invalid page token",
                                                 "type": "value_error"}])


class ContentSha256Mismatch(ValidationFailed):
    """S3's ``XAmzContentSHA256Mismatch``: the body is not what the signed ``x-amz-content-sha256`` says."""

    def __init__(self) -> None:
        super().__init__("The provided 'x-amz-content-sha256' header does not match what was computed.")


class MalformedXML(ValidationFailed):
    """S3's ``MalformedXML``: a body that is not the XML document the operation takes (also more than 1,000 objects in a
    DeleteObjects request, and a DOCTYPE, which could declare entities)."""

    def __init__(self) -> None:
        super().__init__("The XML you provided was not well-formed or did not validate against our published schema")


class MissingRequestBody(ValidationFailed):
    """S3's ``MissingRequestBodyError``."""

    def __init__(self) -> None:
        super().__init__("Request Body is empty")


class BadDigest(ValidationFailed):
    """S3's ``BadDigest``: ``Content-MD5`` or an ``x-amz-checksum-*`` header is not the body's."""


class InvalidDigest(ValidationFailed):
    """S3's ``InvalidDigest``: ``Content-MD5`` or a checksum header that is not a digest at all."""


class OperationNotImplemented(EraserError):
    """A request for an operation this route does not implement (S3's ``NotImplemented``, 501): for example
    ``DELETE /s3/{bucket}/{key}?tagging``, which S3 answers as DeleteObjectTagging, not DeleteObject."""

    def __init__(self, message: str = "A header or query you provided implies functionality that is not "
                                      "implemented.") -> None:
        super().__init__(message)


class PreconditionFailed(EraserError):
    def __init__(self) -> None:
        super().__init__("At least one of the preconditions you specified did not hold.")


class AccessDenied(EraserError):
    """S3 refused (Object Lock, legal hold, wrong expected owner, a policy)."""

    def __init__(self, message: str = "Access Denied") -> None:
        super().__init__(message)


class RetentionProtected(AccessDenied):
    """The version is under Object Lock retention or a legal hold: S3's AccessDenied, for a reason Eraser knows."""


class Conflict(EraserError):
    pass


class BucketStateConflict(Conflict):
    """S3's ``InvalidBucketState`` (409): the request is not valid with the bucket's current configuration."""


class IdempotencyKeyReused(Conflict):
    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was already used with a different request")


class TrashNotEnabled(Conflict):
    def __init__(self, bucket: str) -> None:
        super().__init__(f"Trash is not enabled on bucket '{bucket}'", bucket=bucket)


class RateLimited(EraserError):
    def __init__(self, total_permitted: int, retry_after: int) -> None:
        super().__init__("You have reached the rate limit for this type of request", total_permitted=total_permitted)
        self.total_permitted = total_permitted
        self.retry_after = retry_after


# --- the service's own trouble ---------------------------------------------------------------------------------------
class TaskQueueingError(EraserError):
    def __init__(self, reason: str) -> None:
        super().__init__("A background task needed to complete the request could not be queued", reason=reason)


class ServiceUnavailable(EraserError):
    """``retry_after`` (seconds) is sent as ``Retry-After`` when set: the request ran out of time, retrying may work."""

    def __init__(self, reason: str = "The service is currently unavailable, please try again later",
                 retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
