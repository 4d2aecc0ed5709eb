"""AWS Signature Version 4 verification for S3 clients (boto3, the AWS CLI, s5cmd, SDKs).

Both forms S3 accepts: the ``Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``
header, and pre-signed URLs (``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``, ``X-Amz-Expires``,
``X-Amz-SignedHeaders``, ``X-Amz-Signature`` in the query). The algorithm is the one AWS documents ("Create a signed
AWS API request"): canonical request, string to sign, a signing key derived from the secret, date, region and service,
and HMAC-SHA256. S3 signs the path as the client sent it (no double encoding, no dot-segment normalisation).

What S3 checks besides the signature, and so does this module: the scope names this region and service ``s3``; the
request time is within 15 minutes of now (``RequestTimeTooSkewed``); a pre-signed URL has not expired and lives at
most 7 days; a hex ``x-amz-content-sha256`` is the SHA-256 of the body (``XAmzContentSHA256Mismatch``); every
``x-amz-*`` header the request carries is signed. ``aws-chunked`` bodies (``STREAMING-*`` payload hashes, which
clients use for uploads only) are recognised and refused as ``NotImplemented``: no route here takes an upload.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from eraser.errors import (
    AuthorizationHeaderMalformed,
    AuthorizationMalformed,
    AuthorizationQueryParametersError,
    ContentSha256Mismatch,
    InvalidCredentials,
    OperationNotImplemented,
    RequestTimeTooSkewed,
    SignatureAccessDenied,
    SignatureDoesNotMatch,
    ValidationFailed,
)

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "s3"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PREFIX = "STREAMING-"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# S3's limits: a request is refused when its time is more than 15 minutes from the server's; a pre-signed URL may be
# valid for at most 7 days (604,800 seconds).
MAX_CLOCK_SKEW = timedelta(minutes=15)
MAX_PRESIGNED_EXPIRES_SECONDS = 604_800
# What a pre-signed URL carries in its query (all required), and every query parameter that only authenticates a
# request (SigV4's optional ones, and SigV2's, which are refused as such): none of them names an operation.
PRESIGNED_URL_PARAMETERS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                            "X-Amz-SignedHeaders", "X-Amz-Signature")
AUTHENTICATION_QUERY_PARAMETERS = frozenset({*PRESIGNED_URL_PARAMETERS, "X-Amz-Content-Sha256", "X-Amz-Security-Token",
                                             "AWSAccessKeyId", "Signature", "Expires"})
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_SPACES = re.compile(r" +")


@dataclass(frozen=True)
class SignedRequest:
    """An HTTP request as its signer saw it.

    ``canonical_uris`` are the URI-encoded paths the client may have signed for the same resource (behind API
    Gateway the client's URL may carry a stage prefix the route does not); ``query`` holds decoded name/value pairs;
    ``headers`` maps lower-case names to every value received."""

    method: str
    canonical_uris: tuple[str, ...]
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, tuple[str, ...]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[-1] if values else None

    def query_value(self, name: str) -> str | None:
        return next((value for key, value in self.query if key == name), None)


@dataclass(frozen=True)
class Credential:
    """The ``Credential=`` part: access key id and scope (``date/region/service/aws4_request``)."""

    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


@dataclass(frozen=True)
class Signature:
    credential: Credential
    signed_headers: tuple[str, ...]
    signature: str
    request_time: datetime
    payload_hash: str
    presigned: bool
    expires_seconds: int | None = None
    amz_date: str = field(default="")


def is_signed(request: SignedRequest) -> bool:
    """Whether the request carries a SigV4 signature (header or query), valid or not."""
    authorization = (request.header("authorization") or "").strip()
    return authorization.startswith(ALGORITHM) or request.query_value("X-Amz-Algorithm") is not None


def is_signature_v2(request: SignedRequest) -> bool:
    """Whether the request carries the retired Signature Version 2 (``Authorization: AWS <key>:<signature>``, or a
    pre-signed URL's ``AWSAccessKeyId`` and ``Signature``), which S3 refuses in every region opened since 2014."""
    authorization = (request.header("authorization") or "").strip()
    return authorization.startswith("AWS ") or (request.query_value("AWSAccessKeyId") is not None
                                                 and request.query_value("Signature") is not None)


def refuse_signature_v2() -> ValidationFailed:
    return ValidationFailed("The authorization mechanism you have provided is not supported. Please use "
                            "AWS4-HMAC-SHA256.")


# --- the algorithm ---------------------------------------------------------------------------------------------------
def uri_encode(text: str, *, keep_slash: bool = False) -> str:
    """SigV4's URI encoding: every byte but ``A-Z a-z 0-9 - _ . ~`` (and ``/`` in paths) as ``%XX``, upper-case."""
    # A lone surrogate (valid in an event's JSON, never in a signed URL) gets bytes that match no signature.
    return quote(text, safe="/" if keep_slash else "", errors="surrogatepass")


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def canonical_query(query: Sequence[tuple[str, str]], *, exclude: str | None = None) -> str:
    pairs = sorted((uri_encode(name), uri_encode(value)) for name, value in query if name != exclude)
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_header_value(values: Sequence[str]) -> str:
    return ",".join(_SPACES.sub(" ", value.strip()) for value in values)


def canonical_request(method: str, canonical_uri: str, query: str, headers: Mapping[str, Sequence[str]],
                      signed_headers: Sequence[str], payload_hash: str) -> str:
    header_lines = "".join(f"{name}:{canonical_header_value(headers[name])}\n" for name in signed_headers)
    return "\n".join([method, canonical_uri, query, header_lines, ";".join(signed_headers), payload_hash])


def string_to_sign(amz_date: str, scope: str, request: str) -> str:
    # surrogatepass: a header value of an event may hold a lone surrogate, which no client signed (it does not match).
    return "\n".join([ALGORITHM, amz_date, scope,
                      hashlib.sha256(request.encode("utf-8", "surrogatepass")).hexdigest()])


def sign(secret: str, credential: Credential, amz_date: str, request: str) -> str:
    key = signing_key(secret, credential.date, credential.region, credential.service)
    return hmac.new(key, string_to_sign(amz_date, credential.scope, request).encode(), hashlib.sha256).hexdigest()


# --- parsing ---------------------------------------------------------------------------------------------------------
def parse_credential(text: str, error: Callable[[str], Exception]) -> Credential:
    parts = text.split("/")
    if len(parts) != 5 or not all(parts):
        raise error(f"The credential '{text}' is malformed; expecting '<key>/YYYYMMDD/<region>/s3/aws4_request'")
    return Credential(*parts)


def _parse_amz_date(text: str, error: Callable[[str], Exception]) -> datetime:
    try:
        return datetime.strptime(text, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise error(f"X-Amz-Date '{text}' is not in the form YYYYMMDDTHHMMSSZ") from None


def _header_signature(request: SignedRequest, authorization: str) -> Signature:
    fields: dict[str, str] = {}
    for part in authorization[len(ALGORITHM):].split(","):
        name, separator, value = part.strip().partition("=")
        if not separator:
            raise AuthorizationHeaderMalformed("The authorization header is malformed")
        fields[name.strip()] = value.strip()
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        raise AuthorizationHeaderMalformed("The authorization header is malformed; it needs Credential, SignedHeaders "
                                     "and Signature")
    credential = parse_credential(fields["Credential"], AuthorizationHeaderMalformed)
    amz_date = request.header("x-amz-date")
    if amz_date is not None:
        request_time = _parse_amz_date(amz_date, AuthorizationHeaderMalformed)
    else:
        # Without X-Amz-Date the string to sign uses the Date header's time in the same basic ISO 8601 form.
        date_header = request.header("date")
        try:
            request_time = parsedate_to_datetime(date_header or "").astimezone(UTC)
        except (TypeError, ValueError):
            raise SignatureAccessDenied("AWS authentication requires a valid Date or x-amz-date header") from None
        amz_date = request_time.strftime(AMZ_DATE_FORMAT)
    payload_hash = request.header("x-amz-content-sha256")
    if payload_hash is None:
        # S3 requires it on every header-signed request (even a bodiless one).
        raise ValidationFailed("Missing required header for this request: x-amz-content-sha256")
    return Signature(credential=credential, signed_headers=tuple(fields["SignedHeaders"].split(";")),
                     signature=fields["Signature"], request_time=request_time, payload_hash=payload_hash,
                     presigned=False, amz_date=amz_date)


def _query_signature(request: SignedRequest) -> Signature:
    values: dict[str, str] = {}
    for name in PRESIGNED_URL_PARAMETERS:
        value = request.query_value(name)
        if value is None:
            raise AuthorizationQueryParametersError(f"Query-string authentication requires the {name} parameter")
        values[name] = value
    if values["X-Amz-Algorithm"] != ALGORITHM:
        raise AuthorizationQueryParametersError("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
    try:
        expires = int(values["X-Amz-Expires"])
    except ValueError:
        expires = -1
    if not 0 < expires <= MAX_PRESIGNED_EXPIRES_SECONDS:
        raise AuthorizationQueryParametersError("X-Amz-Expires must be between 1 and 604800 seconds")

    malformed = AuthorizationQueryParametersError
    return Signature(credential=parse_credential(values["X-Amz-Credential"], malformed),
                     signed_headers=tuple(values["X-Amz-SignedHeaders"].split(";")),
                     signature=values["X-Amz-Signature"],
                     request_time=_parse_amz_date(values["X-Amz-Date"], malformed),
                     # A pre-signed URL's payload is unsigned unless the signer put a hash in the query or a header.
                     payload_hash=(request.query_value("X-Amz-Content-Sha256")
                                   or request.header("x-amz-content-sha256") or UNSIGNED_PAYLOAD),
                     presigned=True, expires_seconds=expires, amz_date=values["X-Amz-Date"])


def parse_signature(request: SignedRequest) -> Signature:
    authorization = (request.header("authorization") or "").strip()
    if authorization.startswith(ALGORITHM):
        if request.query_value("X-Amz-Algorithm") is not None:
            raise ValidationFailed("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or "
                                   "the Authorization header may be specified")
        return _header_signature(request, authorization)
    return _query_signature(request)


def _malformed(signature: Signature) -> type[AuthorizationMalformed]:
    return AuthorizationQueryParametersError if signature.presigned else AuthorizationHeaderMalformed


# --- verification ----------------------------------------------------------------------------------------------------
def _check_scope(signature: Signature, region: str) -> None:
    credential = signature.credential
    malformed = _malformed(signature)
    if credential.date != signature.amz_date[:8]:
        raise malformed(f"The credential date '{credential.date}' does not match the request date "
                                     f"'{signature.amz_date[:8]}'")
    if credential.region != region:
        raise malformed(f"The authorization header is malformed; the region '{credential.region}' is "
                                     f"wrong; expecting '{region}'", region=region)
    if credential.service != SERVICE:
        raise malformed(f"The credential's service '{credential.service}' is wrong; expecting 's3'")
    if credential.terminator != TERMINATOR:
        raise malformed(f"The credential must end with '{TERMINATOR}'")


def _check_time(signature: Signature, now: datetime) -> None:
    if signature.presigned:
        assert signature.expires_seconds is not None
        if signature.request_time - now > MAX_CLOCK_SKEW:
            raise RequestTimeTooSkewed(signature.request_time, now)
        if now > signature.request_time + timedelta(seconds=signature.expires_seconds):
            raise SignatureAccessDenied("Request has expired")
    elif abs(signature.request_time - now) > MAX_CLOCK_SKEW:
        raise RequestTimeTooSkewed(signature.request_time, now)


def _check_signed_headers(request: SignedRequest, signature: Signature) -> None:
    signed = signature.signed_headers
    if list(signed) != sorted(set(signed)) or "host" not in signed or any(not name for name in signed):
        raise _malformed(signature)("SignedHeaders must be sorted, lower-case, unique and include host")
    missing = [name for name in signed if name not in request.headers]
    if missing:
        raise SignatureDoesNotMatch()
    unsigned_amz = sorted(name for name in request.headers if name.startswith("x-amz-") and name not in signed)
    if unsigned_amz:
        raise SignatureAccessDenied(f"There were headers present in the request which were not signed: {unsigned_amz}")


def verify(request: SignedRequest, secret_of: Callable[[str], str | None], *, region: str,
           now: datetime | None = None) -> str:
    """The access key id of a correctly signed ``request``; raises the error S3 would answer otherwise.

    ``secret_of`` returns the secret of an access key id, or None when the key is unknown or revoked."""
    signature = parse_signature(request)
    # The time first, as S3 does: a skewed clock is the likelier cause of a date that does not match the scope.
    _check_time(signature, now or datetime.now(UTC))
    _check_scope(signature, region)
    _check_signed_headers(request, signature)
    secret = secret_of(signature.credential.access_key_id)
    if secret is None:
        raise InvalidCredentials("The AWS Access Key Id you provided does not exist in our records.")
    query = canonical_query(request.query, exclude="X-Amz-Signature" if signature.presigned else None)
    headers = {name: request.headers[name] for name in signature.signed_headers}
    matched = False
    for canonical_uri in request.canonical_uris:
        text = canonical_request(request.method, canonical_uri, query, headers, signature.signed_headers,
                                 signature.payload_hash)
        expected = sign(secret, signature.credential, signature.amz_date, text)
        # compare_digest: the time taken must not tell how many leading characters matched.
        # On bytes: compare_digest refuses str that is not ASCII, and the signature is the caller's text.
        matched = hmac.compare_digest(expected.encode(), signature.signature.encode("utf-8", "surrogatepass")) or matched
    if not matched:
        raise SignatureDoesNotMatch()
    _check_payload(request, signature.payload_hash)
    return signature.credential.access_key_id


def _check_payload(request: SignedRequest, payload_hash: str) -> None:
    if payload_hash == UNSIGNED_PAYLOAD:
        return
    if payload_hash.startswith(STREAMING_PREFIX):
        raise OperationNotImplemented("aws-chunked request bodies (x-amz-content-sha256: STREAMING-*) are not "
                                      "accepted: no operation of this endpoint takes an upload")
    if not _HEX_SHA256.fullmatch(payload_hash):
        raise ValidationFailed("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-... or a SHA-256 in hex")
    if not hmac.compare_digest(hashlib.sha256(request.body).hexdigest(), payload_hash):
        raise ContentSha256Mismatch()
