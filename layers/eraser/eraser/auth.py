"""Credentials and scopes.

Two kinds of credentials identify a caller:
- API keys (``erk_<key id>_<secret>``), sent in ``X-Api-Key``, ``api-key`` or ``Authorization: Bearer``. Only their
  SHA-256 is stored; a key is never logged.
- JWT bearer tokens signed with HS256 and the configured secret, with claims ``sub``, ``org``, ``scope``
  (space-separated) and ``exp``.
- S3 access keys (an access key id and a secret access key), for S3 clients on the ``/s3`` endpoints: requests signed
  with AWS Signature Version 4 (``eraser.sigv4``). Verifying a signature needs the secret itself, so it is stored
  encrypted with the KMS key ``S3_SECRETS_KEY`` (the access key id and organization bound as encryption context) and
  decrypted only to verify.

``authenticate`` checks, in this order: a credential is present, it is valid, it has not expired, its organization
exists and is active, and the required scope is granted. Each failure is its own error type so that every API family
can answer with its own status and code.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import jwt
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from eraser import aws, sigv4
from eraser.clock import utc_now
from eraser.config import settings
from eraser.errors import (
    ExpiredCredentials,
    InvalidCredentials,
    MissingCredentials,
    OrganizationNotActivated,
    OrganizationNotFound,
    OrganizationSuspended,
    ScopeNotGranted,
)
from eraser.tenancy import Organization, OrganizationStatus, TenancyRepository

API_KEY_PREFIX = "erk_"
# Access key ids look like AWS's (20 upper-case letters and digits) so that clients which check their shape accept
# them; "EK" tells them apart from AWS's own AKIA/ASIA keys.
S3_ACCESS_KEY_PREFIX = "EK"
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class Scope(StrEnum):
    OBJECTS_DELETE = "objects:delete"
    # Listing and HEAD on the S3 endpoint, which S3 clients need before they delete (aws s3 rm --recursive, s5cmd).
    OBJECTS_READ = "objects:read"
    BUCKETS_PURGE = "buckets:purge"
    BUCKETS_DELETE = "buckets:delete"
    TASKS_READ = "tasks:read"
    TASKS_CANCEL = "tasks:cancel"
    TRASH_READ = "trash:read"
    TRASH_RESTORE = "trash:restore"
    TRASH_OBJECTS_PURGE = "trash_objects:purge"


ALL_SCOPES = frozenset(Scope)


class Principal(BaseModel):
    """Who is calling: the organization, the subject (key id or JWT ``sub``) and the granted scopes."""

    model_config = ConfigDict(frozen=True)

    organization: Organization
    subject: str
    credential_id: str
    scopes: frozenset[str]

    def require(self, scope: Scope) -> None:
        if scope.value not in self.scopes:
            raise ScopeNotGranted(scope.value)


class ApiKeyRecord(BaseModel):
    key_id: str
    organization_id: str
    scopes: list[str]
    name: str = ""
    created_at: datetime
    expires_at: datetime | None = None
    revoked: bool = False


class S3KeyRecord(BaseModel):
    """An S3 access key: what it may do, and its secret encrypted with KMS (base64 of the ciphertext)."""

    access_key_id: str
    organization_id: str
    scopes: list[str]
    name: str = ""
    created_at: datetime
    revoked: bool = False
    secret_ciphertext: str


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def extract_credential(headers: Mapping[str, str]) -> str:
    """The credential from ``X-Api-Key``, ``api-key`` or ``Authorization: Bearer`` (header names are case-insensitive)."""
    lowered = {name.lower(): value for name, value in headers.items() if value is not None}
    for name in ("x-api-key", "api-key"):
        if lowered.get(name, "").strip():
            return lowered[name].strip()
    authorization = lowered.get("authorization", "").strip()
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidCredentials("The Authorization header must be 'Bearer <token>'")
        return token.strip()
    raise MissingCredentials()


class CredentialStore:
    """API keys in the credentials table: ``APIKEY#<sha256>`` holds the key, ``KEYID#<id>`` points at it."""

    def __init__(self, table_name: str | None = None) -> None:
        self._table = aws.table(table_name or settings().credentials_table)

    def issue(self, organization_id: str, scopes: list[str], name: str = "",
              expires_at: datetime | None = None) -> tuple[str, ApiKeyRecord]:
        unknown = set(scopes) - {scope.value for scope in Scope}
        if unknown:
            raise ValueError(f"unknown scopes: {sorted(unknown)}")
        key_id = secrets.token_hex(6)
        api_key = f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKeyRecord(key_id=key_id, organization_id=organization_id, scopes=sorted(set(scopes)), name=name,
                              created_at=utc_now(), expires_at=expires_at)
        digest = hash_api_key(api_key)
        self._table.put_item(Item={"pk": f"APIKEY#{digest}", **record.model_dump(mode="json")},
                             ConditionExpression="attribute_not_exists(pk)")
        self._table.put_item(Item={"pk": f"KEYID#{key_id}", "key_hash": digest, "organization_id": organization_id})
        return api_key, record

    def lookup(self, api_key: str) -> ApiKeyRecord | None:
        item = self._table.get_item(Key={"pk": f"APIKEY#{hash_api_key(api_key)}"}).get("Item")
        if not item:
            return None
        return ApiKeyRecord.model_validate({name: value for name, value in item.items() if name != "pk"})

    def revoke(self, key_id: str) -> bool:
        pointer = self._table.get_item(Key={"pk": f"KEYID#{key_id}"}).get("Item")
        if not pointer:
            return False
        self._table.update_item(Key={"pk": f"APIKEY#{pointer['key_hash']}"}, UpdateExpression="SET revoked = :yes",
                                ExpressionAttributeValues={":yes": True})
        return True


    # --- S3 access keys ----------------------------------------------------------------------------------------
    def issue_s3_key(self, organization_id: str, scopes: list[str], name: str = "") -> tuple[str, S3KeyRecord]:
        """A new access key id and its secret (returned this once), the secret stored encrypted with KMS."""
        unknown = set(scopes) - {scope.value for scope in Scope}
        if unknown:
            raise ValueError(f"unknown scopes: {sorted(unknown)}")
        key = settings().s3_secrets_key
        if not key:
            raise ValueError("S3_SECRETS_KEY is not set: this deployment has no KMS key for S3 secrets")
        access_key_id = S3_ACCESS_KEY_PREFIX + "".join(secrets.choice(_BASE32) for _ in range(18))
        secret = secrets.token_urlsafe(30)
        ciphertext = aws.kms().encrypt(KeyId=key, Plaintext=secret.encode("utf-8"),
                                       EncryptionContext=_s3_key_context(access_key_id, organization_id))
        record = S3KeyRecord(access_key_id=access_key_id, organization_id=organization_id,
                             scopes=sorted(set(scopes)), name=name, created_at=utc_now(),
                             secret_ciphertext=base64.b64encode(ciphertext["CiphertextBlob"]).decode("ascii"))
        self._table.put_item(Item={"pk": f"S3KEY#{access_key_id}", **record.model_dump(mode="json")},
                             ConditionExpression="attribute_not_exists(pk)")
        return secret, record

    def lookup_s3_key(self, access_key_id: str) -> S3KeyRecord | None:
        # An access key id from a request is used as a key: one that cannot be a DynamoDB key cannot exist.
        if not aws.fits_dynamodb_key(f"S3KEY#{access_key_id}", aws.PARTITION_KEY_MAX_BYTES):
            return None
        item = self._table.get_item(Key={"pk": f"S3KEY#{access_key_id}"}).get("Item")
        if not item:
            return None
        return S3KeyRecord.model_validate({name: value for name, value in item.items() if name != "pk"})

    def revoke_s3_key(self, access_key_id: str) -> bool:
        if self.lookup_s3_key(access_key_id) is None:
            return False
        self._table.update_item(Key={"pk": f"S3KEY#{access_key_id}"}, UpdateExpression="SET revoked = :yes",
                                ExpressionAttributeValues={":yes": True})
        return True


def _s3_key_context(access_key_id: str, organization_id: str) -> dict[str, str]:
    # Bound into the ciphertext: a secret copied onto another key's or organization's record does not decrypt.
    return {"eraser:access_key_id": access_key_id, "eraser:organization_id": organization_id}


@functools.lru_cache(maxsize=256)
def _decrypt_s3_secret(ciphertext: str, access_key_id: str, organization_id: str) -> str:
    """The plain secret, cached per ciphertext: a warm function verifies without a KMS call per request (the record
    itself, and so revocation, is read on every request)."""
    plaintext = aws.kms().decrypt(CiphertextBlob=base64.b64decode(ciphertext),
                                  EncryptionContext=_s3_key_context(access_key_id, organization_id))["Plaintext"]
    return bytes(plaintext).decode("utf-8")


def issue_jwt(secret: str, subject: str, organization_id: str, scopes: list[str], expires_at: datetime) -> str:
    claims = {"sub": subject, "org": organization_id, "scope": " ".join(scopes), "exp": int(expires_at.timestamp())}
    return jwt.encode(claims, secret, algorithm="HS256")


def _principal_from_jwt(token: str) -> tuple[str, str, str, frozenset[str]]:
    secret = settings().jwt_secret
    if not secret:
        raise InvalidCredentials("Bearer tokens are not accepted by this deployment")
    try:
        claims: dict[str, Any] = jwt.decode(token, secret, algorithms=["HS256"],
                                            options={"require": ["sub", "org", "exp"]})
    except jwt.ExpiredSignatureError as error:
        raise ExpiredCredentials() from error
    except jwt.PyJWTError as error:
        raise InvalidCredentials() from error
    scopes = frozenset(str(claims.get("scope", "")).split())
    return str(claims["org"]), str(claims["sub"]), f"jwt:{claims['sub']}", scopes


def _principal_from_api_key(api_key: str, store: CredentialStore) -> tuple[str, str, str, frozenset[str]]:
    if not api_key.startswith(API_KEY_PREFIX):
        raise InvalidCredentials()
    record = store.lookup(api_key)
    # The lookup is by SHA-256 of the whole key, so no secret is ever compared byte by byte.
    if record is None or record.revoked:
        raise InvalidCredentials()
    if record.expires_at is not None and record.expires_at <= datetime.now(UTC):
        raise ExpiredCredentials()
    return record.organization_id, f"key:{record.key_id}", f"key:{record.key_id}", frozenset(record.scopes)


def _principal_from_signature(request: sigv4.SignedRequest,
                               store: CredentialStore) -> tuple[str, str, str, frozenset[str]]:
    records: dict[str, S3KeyRecord] = {}

    def secret_of(access_key_id: str) -> str | None:
        record = store.lookup_s3_key(access_key_id)
        if record is None or record.revoked:
            return None
        records[access_key_id] = record
        try:
            return _decrypt_s3_secret(record.secret_ciphertext, record.access_key_id, record.organization_id)
        except ClientError as error:
            # A ciphertext that is not this record's (copied from another key, damaged): the key cannot be used.
            if error.response.get("Error", {}).get("Code") == "InvalidCiphertextException":
                return None
            raise

    access_key_id = sigv4.verify(request, secret_of, region=settings().s3_signing_region)
    record = records[access_key_id]
    return record.organization_id, f"s3key:{access_key_id}", f"s3key:{access_key_id}", frozenset(record.scopes)


def authenticate(headers: Mapping[str, str], required: Scope | None = None, *,
                 tenancy: TenancyRepository | None = None, credentials: CredentialStore | None = None,
                 signed_request: sigv4.SignedRequest | None = None) -> Principal:
    """The caller. ``signed_request`` is the whole request, given by the S3 endpoints only: with it, a request signed
    with SigV4 is verified instead of looking for an API key or bearer token."""
    if signed_request is not None and sigv4.is_signature_v2(signed_request):
        raise sigv4.refuse_signature_v2()
    if signed_request is not None and sigv4.is_signed(signed_request):
        organization_id, subject, credential_id, scopes = _principal_from_signature(
            signed_request, credentials or CredentialStore())
    else:
        token = extract_credential(headers)
        if token.count(".") == 2 and not token.startswith(API_KEY_PREFIX):
            organization_id, subject, credential_id, scopes = _principal_from_jwt(token)
        else:
            organization_id, subject, credential_id, scopes = _principal_from_api_key(
                token, credentials or CredentialStore())
    try:
        organization = (tenancy or TenancyRepository()).get_organization(organization_id)
    except OrganizationNotFound as error:
        # Credentials of an organization that no longer exists are simply invalid.
        raise InvalidCredentials() from error
    if organization.status == OrganizationStatus.SUSPENDED:
        raise OrganizationSuspended()
    if organization.status == OrganizationStatus.NOT_ACTIVATED:
        raise OrganizationNotActivated()
    principal = Principal(organization=organization, subject=subject, credential_id=credential_id, scopes=scopes)
    if required is not None:
        principal.require(required)
    return principal
