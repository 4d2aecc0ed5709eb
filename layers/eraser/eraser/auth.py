"""Credentials and scopes.

Two kinds of credentials identify a caller:
- API keys (``erk_<key id>_<secret>``), sent in ``X-Api-Key``, ``api-key`` or ``Authorization: Bearer``. Only their
  SHA-256 is stored; a key is never logged.
- JWT bearer tokens signed with HS256 and the configured secret, with claims ``sub``, ``org``, ``scope``
  (space-separated) and ``exp``.

``authenticate`` checks, in this order: a credential is present, it is valid, it has not expired, its organization
exists and is active, and the required scope is granted. Each failure is its own error type so that every API family
can answer with its own status and code.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import jwt
from pydantic import BaseModel, ConfigDict

from eraser import aws
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
from eraser.tenancy import Organization, OrganizationStatus, TenancyRepository, utc_now

API_KEY_PREFIX = "erk_"


class Scope(StrEnum):
    OBJECTS_DELETE = "objects:delete"
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


def authenticate(headers: Mapping[str, str], required: Scope | None = None, *,
                 tenancy: TenancyRepository | None = None, credentials: CredentialStore | None = None) -> Principal:
    token = extract_credential(headers)
    if token.count(".") == 2 and not token.startswith(API_KEY_PREFIX):
        organization_id, subject, credential_id, scopes = _principal_from_jwt(token)
    else:
        organization_id, subject, credential_id, scopes = _principal_from_api_key(token, credentials or CredentialStore())
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
