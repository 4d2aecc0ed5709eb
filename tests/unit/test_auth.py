"""Credentials: API keys in each accepted header, JWTs, and each way authentication fails."""

from __future__ import annotations

from datetime import timedelta

import pytest

from eraser import errors
from eraser.auth import CredentialStore, Scope, authenticate, hash_api_key, issue_jwt
from eraser.clock import utc_now
from eraser.config import settings
from eraser.tenancy import OrganizationStatus, TenancyRepository


@pytest.mark.parametrize("header", ["X-Api-Key", "api-key", "x-api-key", "Authorization"])
def test_api_key_is_accepted_in_each_documented_header(tenant, header):
    value = f"Bearer {tenant.api_key}" if header == "Authorization" else tenant.api_key
    principal = authenticate({header: value}, Scope.OBJECTS_DELETE)
    assert principal.organization.id == tenant.organization.id


def test_api_keys_are_stored_hashed_never_in_clear(stack, tenant):
    import boto3

    items = boto3.resource("dynamodb").Table(stack.environment["CREDENTIALS_TABLE"]).scan()["Items"]
    assert items
    assert all(tenant.api_key not in str(item) for item in items)
    assert any(item["pk"] == f"APIKEY#{hash_api_key(tenant.api_key)}" for item in items)


def test_missing_credentials(tenant):
    with pytest.raises(errors.MissingCredentials):
        authenticate({"Accept": "*/*"}, Scope.OBJECTS_DELETE)


def test_unknown_key_is_invalid(tenant):
    with pytest.raises(errors.InvalidCredentials):
        authenticate({"X-Api-Key": tenant.api_key[:-2] + "zz"}, Scope.OBJECTS_DELETE)


def test_revoked_key_is_invalid(tenant):
    key_id = tenant.api_key.split("_")[1]
    assert CredentialStore().revoke(key_id)
    with pytest.raises(errors.InvalidCredentials):
        authenticate({"X-Api-Key": tenant.api_key})


def test_expired_key(tenant):
    api_key, _ = CredentialStore().issue(tenant.organization.id, ["objects:delete"],
                                         expires_at=utc_now() - timedelta(seconds=1))
    with pytest.raises(errors.ExpiredCredentials):
        authenticate({"X-Api-Key": api_key}, Scope.OBJECTS_DELETE)


def test_scope_not_granted_names_the_scope(tenant):
    api_key = tenant.key_with_scopes("tasks:read")
    with pytest.raises(errors.ScopeNotGranted) as raised:
        authenticate({"X-Api-Key": api_key}, Scope.BUCKETS_PURGE)
    assert raised.value.scope == "buckets:purge"


@pytest.mark.parametrize(("status", "error"), [(OrganizationStatus.SUSPENDED, errors.OrganizationSuspended),
                                                (OrganizationStatus.NOT_ACTIVATED, errors.OrganizationNotActivated)])
def test_inactive_organization_is_refused(tenant, status, error):
    TenancyRepository().set_organization_status(tenant.organization.id, status)
    with pytest.raises(error):
        authenticate(tenant.headers, Scope.OBJECTS_DELETE)


def test_jwt_bearer_token(tenant):
    token = issue_jwt(settings().jwt_secret, "alice", tenant.organization.id, ["buckets:purge"],
                      utc_now() + timedelta(minutes=5))
    principal = authenticate({"Authorization": f"Bearer {token}"}, Scope.BUCKETS_PURGE)
    assert (principal.subject, principal.organization.id) == ("alice", tenant.organization.id)
    with pytest.raises(errors.ScopeNotGranted):
        principal.require(Scope.BUCKETS_DELETE)


def test_expired_jwt(tenant):
    token = issue_jwt(settings().jwt_secret, "alice", tenant.organization.id, ["buckets:purge"],
                      utc_now() - timedelta(minutes=5))
    with pytest.raises(errors.ExpiredCredentials):
        authenticate({"Authorization": f"Bearer {token}"}, Scope.BUCKETS_PURGE)


def test_jwt_signed_with_another_secret_is_invalid(tenant):
    token = issue_jwt("not-the-secret-but-long-enough-to-sign-0123", "mallory", tenant.organization.id,
                      ["buckets:purge"], utc_now() + timedelta(minutes=5))
    with pytest.raises(errors.InvalidCredentials):
        authenticate({"Authorization": f"Bearer {token}"}, Scope.BUCKETS_PURGE)


def test_authorization_header_without_bearer_scheme_is_invalid(tenant):
    with pytest.raises(errors.InvalidCredentials):
        authenticate({"Authorization": f"Basic {tenant.api_key}"})


def test_bucket_of_another_organization_is_not_found(tenant, other_tenant):
    repository = TenancyRepository()
    assert repository.find_bucket(tenant.organization.id, "photos").id == tenant.bucket.id
    with pytest.raises(errors.BucketNotFound):
        repository.find_bucket(tenant.organization.id, other_tenant.bucket.id)
