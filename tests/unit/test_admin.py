"""The operator command ``eraser-admin`` against the moto stack: every command changes the store as it says."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest

from eraser import admin
from eraser.auth import ALL_SCOPES, CredentialStore, authenticate
from eraser.errors import InvalidCredentials
from eraser.tenancy import OrganizationStatus, TenancyRepository
from tests.support import AwsStack, list_keys


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    status = admin.main(list(argv))
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out)


def fail(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert admin.main(list(argv)) == 1
    return str(json.loads(capsys.readouterr().err)["error"])


@pytest.fixture
def org(stack: AwsStack, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    return run(capsys, "create-org", "--sub-domain", "acme", "--account-id", "123456789012")  # type: ignore[no-any-return]


def test_create_org_stores_an_active_organization_findable_by_sub_domain(stack: AwsStack, org: dict[str, Any]) -> None:
    stored = TenancyRepository().find_organization_by_sub_domain("acme")
    assert stored.id == org["id"]
    assert stored.status == OrganizationStatus.ACTIVE
    assert stored.account_id == "123456789012"


def test_create_org_with_status_and_retention(stack: AwsStack, capsys: pytest.CaptureFixture[str]) -> None:
    created = run(capsys, "create-org", "--sub-domain", "later", "--account-id", "210987654321", "--status",
                  "not_activated", "--trash-retention-days", "7")
    stored = TenancyRepository().get_organization(created["id"])
    assert stored.status == OrganizationStatus.NOT_ACTIVATED
    assert stored.trash_retention_days == 7


def test_create_org_refuses_a_taken_sub_domain_and_a_bad_account_id(
        stack: AwsStack, org: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert "taken" in fail(capsys, "create-org", "--sub-domain", "acme", "--account-id", "123456789012")
    assert "12 digits" in fail(capsys, "create-org", "--sub-domain", "other", "--account-id", "12")
    assert len(TenancyRepository().list_organizations()) == 1


def test_issue_key_prints_a_key_that_authenticates_with_the_requested_scopes(
        stack: AwsStack, org: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    issued = run(capsys, "issue-key", "--org", "acme", "--scopes", "objects:delete,tasks:read", "--name", "ci")
    principal = authenticate({"X-Api-Key": issued["api_key"]})
    assert principal.organization.id == org["id"]
    assert principal.scopes == {"objects:delete", "tasks:read"}
    record = CredentialStore().lookup(issued["api_key"])
    assert record is not None and record.name == "ci" and record.expires_at is None


def test_issue_key_all_scopes_by_org_id_with_expiry(
        stack: AwsStack, org: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    issued = run(capsys, "issue-key", "--org", org["id"], "--expires-in-days", "3")
    assert set(issued["scopes"]) == {scope.value for scope in ALL_SCOPES}
    assert issued["expires_at"] is not None


def test_issue_key_refuses_unknown_scopes_and_unknown_orgs(
        stack: AwsStack, org: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert "unknown scopes" in fail(capsys, "issue-key", "--org", "acme", "--scopes", "objects:delete,root")
    assert "no organization" in fail(capsys, "issue-key", "--org", "nobody")


def test_revoke_key_makes_the_key_invalid(stack: AwsStack, org: dict[str, Any],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    issued = run(capsys, "issue-key", "--org", "acme")
    assert run(capsys, "revoke-key", "--key-id", issued["key_id"]) == {"key_id": issued["key_id"], "revoked": True}
    with pytest.raises(InvalidCredentials):
        authenticate({"X-Api-Key": issued["api_key"]})
    assert "no API key" in fail(capsys, "revoke-key", "--key-id", "missing")


def test_register_bucket_creates_a_versioned_trash_bucket(stack: AwsStack, org: dict[str, Any],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    registered = run(capsys, "register-bucket", "--org", "acme", "--name", "photos", "--create", "--trash",
                     "--trash-retention-days", "5")
    assert registered["s3_bucket"] == "eraser-test-acme-photos"
    assert stack.s3.get_bucket_versioning(Bucket="eraser-test-acme-photos")["Status"] == "Enabled"
    stored = TenancyRepository().find_bucket(org["id"], "photos")
    assert stored.id == registered["id"]
    assert stored.configuration.trash_enabled and stored.configuration.trash_retention_days == 5


def test_register_bucket_uses_an_existing_s3_bucket_and_refuses_a_missing_one(
        stack: AwsStack, org: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    stack.s3.create_bucket(Bucket="eraser-dev-existing")
    run(capsys, "register-bucket", "--org", "acme", "--name", "docs", "--s3-bucket", "eraser-dev-existing")
    assert "Status" not in stack.s3.get_bucket_versioning(Bucket="eraser-dev-existing")
    fail(capsys, "register-bucket", "--org", "acme", "--name", "ghost", "--s3-bucket", "eraser-dev-missing")
    listed = run(capsys, "list-buckets", "--org", "acme")
    assert [bucket["name"] for bucket in listed["buckets"]] == ["docs"]


def test_register_bucket_refuses_a_name_taken_in_the_organization(
        stack: AwsStack, org: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "register-bucket", "--org", "acme", "--name", "photos", "--create")
    assert "taken" in fail(capsys, "register-bucket", "--org", "acme", "--name", "photos", "--s3-bucket",
                           "eraser-dev-other", "--create")


def test_set_org_status_suspends_and_reactivates(stack: AwsStack, org: dict[str, Any],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "set-org-status", "--org", "acme", "--status", "suspended")["status"] == "suspended"
    assert TenancyRepository().get_organization(org["id"]).status == OrganizationStatus.SUSPENDED
    run(capsys, "set-org-status", "--org", "acme", "--status", "active")
    assert TenancyRepository().get_organization(org["id"]).status == OrganizationStatus.ACTIVE


def test_issue_jwt_signs_with_the_deployment_secret(stack: AwsStack, org: dict[str, Any],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    issued = run(capsys, "issue-jwt", "--org", "acme", "--sub", "alice", "--scopes", "tasks:read", "--minutes", "5")
    principal = authenticate({"Authorization": f"Bearer {issued['token']}"})
    assert principal.organization.id == org["id"]
    assert principal.subject == "alice" and principal.scopes == {"tasks:read"}
    claims = jwt.decode(issued["token"], stack.environment["JWT_SECRET"], algorithms=["HS256"])
    assert claims["org"] == org["id"]


def test_issue_jwt_refuses_without_a_secret(stack: AwsStack, org: dict[str, Any],
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", "")
    assert "JWT_SECRET" in fail(capsys, "issue-jwt", "--org", "acme", "--sub", "alice")


def test_seed_demo_creates_the_demo_tenant_with_objects(stack: AwsStack, capsys: pytest.CaptureFixture[str]) -> None:
    demo = run(capsys, "seed-demo", "--json")
    assert demo["bucket"]["name"] == "demo" and demo["bucket"]["s3_bucket"] == "eraser-dev-demo"
    assert list_keys(stack.s3, "eraser-dev-demo") == sorted(admin.DEMO_OBJECTS)
    principal = authenticate({"X-Api-Key": demo["api_key"]})
    assert principal.organization.sub_domain == "demo" and principal.organization.account_id == "123456789012"
    assert principal.scopes == {scope.value for scope in ALL_SCOPES}
    assert TenancyRepository().find_bucket(demo["organization_id"], "demo").id == demo["bucket"]["id"]


def test_seed_demo_twice_reuses_the_tenant_and_refills_the_bucket(stack: AwsStack,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    first = run(capsys, "seed-demo")
    stack.s3.delete_object(Bucket="eraser-dev-demo", Key="hello.txt")
    second = run(capsys, "seed-demo")
    assert second["organization_id"] == first["organization_id"]
    assert second["bucket"]["id"] == first["bucket"]["id"]
    assert "hello.txt" in list_keys(stack.s3, "eraser-dev-demo")
    # Both keys work: a key is shown once, so a second seed issues a new one.
    authenticate({"X-Api-Key": first["api_key"]})
    authenticate({"X-Api-Key": second["api_key"]})


def test_stage_option_names_the_tables_as_the_template_does(stack: AwsStack, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENANCY_TABLE")
    run(capsys, "--stage", "test", "create-org", "--sub-domain", "staged", "--account-id", "123456789012")
    assert TenancyRepository("eraser-test-tenancy").find_organization_by_sub_domain("staged").sub_domain == "staged"


def test_local_option_reads_the_state_file(stack: AwsStack, capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    state = tmp_path / "local.json"
    state.write_text(json.dumps({"environment": {"TENANCY_TABLE": stack.environment["TENANCY_TABLE"]}}))
    run(capsys, "--local", "--state-file", str(state), "create-org", "--sub-domain", "viastate", "--account-id",
        "123456789012")
    assert [org["sub_domain"] for org in run(capsys, "list-orgs")["organizations"]] == ["viastate"]
    assert "not found" in fail(capsys, "--local", "--state-file", str(tmp_path / "missing.json"), "list-orgs")
