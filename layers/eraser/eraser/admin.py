"""Operator commands: organizations, API keys, S3 access keys, buckets, and the local demo.

``python -m eraser.admin <command> ...`` (or ``eraser-admin``) works against whatever backend boto3 points at:
``AWS_ENDPOINT_URL`` for the local stack or LocalStack, otherwise the account of the current credentials. Table names
come from the same variables the functions get (``TENANCY_TABLE``, ``CREDENTIALS_TABLE``, ``STAGE``...);
``--stage S`` derives them as the template names them (``eraser-S-tenancy``), and ``--local`` takes the backend and
the tables of the running local stack (``.eraser/local.json``, or ``--state-file``). Every command prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from eraser import aws, config
from eraser.auth import ALL_SCOPES, CredentialStore, issue_jwt
from eraser.clock import new_id, utc_now
from eraser.errors import Conflict, NotFound, OrganizationNotFound
from eraser.tenancy import (
    S3_BUCKET_NAME,
    Bucket,
    BucketConfiguration,
    Organization,
    OrganizationStatus,
    TenancyRepository,
)

DEFAULT_LOCAL_STATE = Path(".eraser/local.json")
TABLE_VARIABLES = {"TENANCY_TABLE": "tenancy", "CREDENTIALS_TABLE": "credentials", "TASKS_TABLE": "deletion-tasks",
                   "IDEMPOTENCY_TABLE": "idempotency", "RATE_LIMITS_TABLE": "rate-limits"}

DEMO_SUB_DOMAIN = "demo"
DEMO_ACCOUNT_ID = "123456789012"
DEMO_S3_BUCKET = "eraser-dev-demo"
DEMO_BUCKET_NAME = "demo"
DEMO_OBJECTS = {
    "hello.txt": b"Hello from Eraser!\n",
    "reports/2024/q1.csv": b"quarter,revenue\nq1,100\n",
    "reports/2024/q2.csv": b"quarter,revenue\nq2,120\n",
    "images/cat.jpg": b"\xff\xd8\xff\xe0 not really a cat \xff\xd9",
}


class AdminError(Exception):
    """A command that cannot be carried out; printed as ``{"error": ...}`` with exit status 1."""


# --- helpers -------------------------------------------------------------------------------------------------------
def parse_scopes(text: str) -> list[str]:
    if text.strip() == "all":
        return sorted(scope.value for scope in ALL_SCOPES)
    scopes = sorted({part.strip() for part in text.split(",") if part.strip()})
    unknown = set(scopes) - {scope.value for scope in ALL_SCOPES}
    if unknown or not scopes:
        raise AdminError(f"unknown scopes {sorted(unknown)}; choose from {sorted(s.value for s in ALL_SCOPES)} or 'all'")
    return scopes


def find_organization(reference: str) -> Organization:
    """An organization by id or by sub domain."""
    repository = TenancyRepository()
    try:
        return repository.get_organization(reference)
    except OrganizationNotFound:
        pass
    try:
        return repository.find_organization_by_sub_domain(reference)
    except OrganizationNotFound:
        raise AdminError(f"no organization with id or sub domain '{reference}'") from None


def create_s3_bucket(name: str, *, versioned: bool = False) -> None:
    s3 = aws.s3()
    region = s3.meta.region_name
    arguments: dict[str, Any] = {"Bucket": name}
    if region and region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**arguments)
    except ClientError as error:
        if error.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def _organization_json(organization: Organization) -> dict[str, Any]:
    return organization.model_dump(mode="json")


def _bucket_json(bucket: Bucket) -> dict[str, Any]:
    return bucket.model_dump(mode="json")


# --- commands ------------------------------------------------------------------------------------------------------
def create_org(args: argparse.Namespace) -> dict[str, Any]:
    organization = Organization(id=new_id("org"), sub_domain=args.sub_domain, account_id=args.account_id,
                                status=OrganizationStatus(args.status), created_at=utc_now(),
                                **({"trash_retention_days": args.trash_retention_days}
                                   if args.trash_retention_days else {}))
    TenancyRepository().put_organization(organization)
    return _organization_json(organization)


def issue_key(args: argparse.Namespace) -> dict[str, Any]:
    organization = find_organization(args.org)
    expires_at = utc_now() + timedelta(days=args.expires_in_days) if args.expires_in_days else None
    api_key, record = CredentialStore().issue(organization.id, parse_scopes(args.scopes), name=args.name,
                                              expires_at=expires_at)
    # The key itself is shown this once: only its SHA-256 is stored.
    return {"api_key": api_key, **record.model_dump(mode="json")}


def revoke_key(args: argparse.Namespace) -> dict[str, Any]:
    if not CredentialStore().revoke(args.key_id):
        raise AdminError(f"no API key with id '{args.key_id}'")
    return {"key_id": args.key_id, "revoked": True}


def issue_s3_key(args: argparse.Namespace) -> dict[str, Any]:
    organization = find_organization(args.org)
    secret, record = CredentialStore().issue_s3_key(organization.id, parse_scopes(args.scopes), name=args.name)
    # The secret is shown this once; the store keeps it only encrypted with the deployment's KMS key.
    return {"access_key_id": record.access_key_id, "secret_access_key": secret,
            "organization_id": record.organization_id, "scopes": record.scopes, "name": record.name,
            "created_at": record.created_at.isoformat()}


def revoke_s3_key(args: argparse.Namespace) -> dict[str, Any]:
    if not CredentialStore().revoke_s3_key(args.access_key_id):
        raise AdminError(f"no S3 access key with id '{args.access_key_id}'")
    return {"access_key_id": args.access_key_id, "revoked": True}


def register_bucket(args: argparse.Namespace) -> dict[str, Any]:
    organization = find_organization(args.org)
    s3_bucket = args.s3_bucket or f"eraser-{config.settings().stage}-{organization.sub_domain}-{args.name}"
    if not S3_BUCKET_NAME.match(s3_bucket):
        raise AdminError(f"'{s3_bucket}' is not a valid S3 bucket name; pass --s3-bucket")
    # Trash keeps deleted objects as noncurrent versions, so it needs versioning.
    versioned = args.versioned or args.trash
    if args.create:
        create_s3_bucket(s3_bucket, versioned=versioned)
    elif versioned:
        aws.s3().put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    else:
        aws.s3().head_bucket(Bucket=s3_bucket)
    bucket = Bucket(id=new_id("bkt"), name=args.name, organization_id=organization.id, s3_bucket=s3_bucket,
                    created_at=utc_now(), configuration=BucketConfiguration(
                        trash_enabled=args.trash, trash_retention_days=args.trash_retention_days))
    TenancyRepository().put_bucket(bucket)
    return _bucket_json(bucket)


def set_org_status(args: argparse.Namespace) -> dict[str, Any]:
    organization = find_organization(args.org)
    TenancyRepository().set_organization_status(organization.id, OrganizationStatus(args.status))
    return _organization_json(TenancyRepository().get_organization(organization.id))


def list_buckets(args: argparse.Namespace) -> dict[str, Any]:
    organization = find_organization(args.org)
    return {"organization_id": organization.id,
            "buckets": [_bucket_json(bucket) for bucket in TenancyRepository().list_buckets(organization.id)]}


def list_orgs(args: argparse.Namespace) -> dict[str, Any]:
    return {"organizations": [_organization_json(org) for org in TenancyRepository().list_organizations()]}


def issue_jwt_command(args: argparse.Namespace) -> dict[str, Any]:
    secret = config.settings().jwt_secret
    if not secret:
        raise AdminError("JWT_SECRET is not set: this deployment does not accept bearer tokens")
    organization = find_organization(args.org)
    expires_at = utc_now() + timedelta(minutes=args.minutes)
    token = issue_jwt(secret, args.sub, organization.id, parse_scopes(args.scopes), expires_at)
    return {"token": token, "organization_id": organization.id, "sub": args.sub,
            "expires_at": expires_at.isoformat()}


def seed_demo(args: argparse.Namespace) -> dict[str, Any]:
    """The demo organization, an all-scopes key and bucket ``demo`` with a few objects. Re-running reuses the
    organization and the bucket, refills the objects, and issues a new key."""
    repository = TenancyRepository()
    try:
        organization = repository.find_organization_by_sub_domain(DEMO_SUB_DOMAIN)
    except OrganizationNotFound:
        organization = Organization(id=new_id("org"), sub_domain=DEMO_SUB_DOMAIN, account_id=DEMO_ACCOUNT_ID,
                                    created_at=utc_now())
        repository.put_organization(organization)
    api_key, record = CredentialStore().issue(organization.id, sorted(s.value for s in ALL_SCOPES), name="demo")
    create_s3_bucket(DEMO_S3_BUCKET)
    for key, body in DEMO_OBJECTS.items():
        aws.s3().put_object(Bucket=DEMO_S3_BUCKET, Key=key, Body=body)
    try:
        bucket = repository.find_bucket(organization.id, DEMO_BUCKET_NAME)
    except NotFound:
        bucket = Bucket(id=new_id("bkt"), name=DEMO_BUCKET_NAME, organization_id=organization.id,
                        s3_bucket=DEMO_S3_BUCKET, created_at=utc_now())
        repository.put_bucket(bucket)
    return {"organization_id": organization.id, "sub_domain": organization.sub_domain, "api_key": api_key,
            "key_id": record.key_id, "bucket": _bucket_json(bucket), "objects": sorted(DEMO_OBJECTS)}


# --- command line --------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eraser-admin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", help="derive table names from the stage (eraser-STAGE-tenancy, ...)")
    parser.add_argument("--local", action="store_true", help="use the running local stack (its backend and tables)")
    parser.add_argument("--state-file", type=Path,
                        default=Path(os.environ.get("ERASER_LOCAL_STATE") or DEFAULT_LOCAL_STATE),
                        help="the local stack's state file (default .eraser/local.json)")
    commands = parser.add_subparsers(dest="command", required=True)

    command = commands.add_parser("create-org", help="create an organization")
    command.add_argument("--sub-domain", required=True)
    command.add_argument("--account-id", required=True, help="12-digit AWS account id owning its buckets")
    command.add_argument("--status", default="active", choices=[status.value for status in OrganizationStatus])
    command.add_argument("--trash-retention-days", type=int)
    command.set_defaults(run=create_org)

    command = commands.add_parser("issue-key", help="issue an API key (printed once)")
    command.add_argument("--org", required=True, help="organization id or sub domain")
    command.add_argument("--scopes", default="all", help="comma-separated scopes, or 'all'")
    command.add_argument("--name", default="")
    command.add_argument("--expires-in-days", type=int)
    command.set_defaults(run=issue_key)

    command = commands.add_parser("revoke-key", help="revoke an API key")
    command.add_argument("--key-id", required=True)
    command.set_defaults(run=revoke_key)

    command = commands.add_parser("issue-s3-key", help="issue an S3 access key id and secret for S3 clients "
                                                       "(the secret is printed once)")
    command.add_argument("--org", required=True, help="organization id or sub domain")
    command.add_argument("--scopes", default="all", help="comma-separated scopes, or 'all'")
    command.add_argument("--name", default="")
    command.set_defaults(run=issue_s3_key)

    command = commands.add_parser("revoke-s3-key", help="revoke an S3 access key")
    command.add_argument("--access-key-id", required=True)
    command.set_defaults(run=revoke_s3_key)

    command = commands.add_parser("register-bucket", help="register an S3 bucket as one of an organization's buckets")
    command.add_argument("--org", required=True)
    command.add_argument("--name", required=True, help="the bucket's name in the API")
    command.add_argument("--s3-bucket", help="the S3 bucket (default eraser-STAGE-<sub domain>-<name>)")
    command.add_argument("--create", action="store_true", help="create the S3 bucket too")
    command.add_argument("--versioned", action="store_true", help="enable S3 versioning")
    command.add_argument("--trash", action="store_true", help="deletes go to trash (enables versioning)")
    command.add_argument("--trash-retention-days", type=int)
    command.set_defaults(run=register_bucket)

    command = commands.add_parser("set-org-status", help="activate or suspend an organization")
    command.add_argument("--org", required=True)
    command.add_argument("--status", required=True, choices=[status.value for status in OrganizationStatus])
    command.set_defaults(run=set_org_status)

    command = commands.add_parser("list-buckets", help="an organization's buckets")
    command.add_argument("--org", required=True)
    command.set_defaults(run=list_buckets)

    command = commands.add_parser("list-orgs", help="every organization")
    command.set_defaults(run=list_orgs)

    command = commands.add_parser("issue-jwt", help="sign a bearer token with JWT_SECRET")
    command.add_argument("--org", required=True)
    command.add_argument("--sub", required=True, help="the token's subject")
    command.add_argument("--scopes", default="all")
    command.add_argument("--minutes", type=int, default=60)
    command.set_defaults(run=issue_jwt_command)

    command = commands.add_parser("seed-demo", help="the demo organization, key and bucket (local development)")
    command.add_argument("--json", action="store_true", help="print JSON (the default; kept for scripts)")
    command.set_defaults(run=seed_demo)
    return parser


def _configure(args: argparse.Namespace) -> None:
    if args.local:
        state_file = args.state_file
        if not state_file.exists():
            raise AdminError(f"{state_file} not found: start the local stack with `make run`")
        state = json.loads(state_file.read_text(encoding="utf-8"))
        os.environ.update(state["environment"])
    elif args.stage:
        os.environ["STAGE"] = args.stage
        for variable, suffix in TABLE_VARIABLES.items():
            os.environ[variable] = f"eraser-{args.stage}-{suffix}"
    config.settings.cache_clear()
    aws.reset_clients()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _configure(args)
        result = args.run(args)
    except (AdminError, Conflict, NotFound, ValueError) as error:
        print(json.dumps({"error": str(error)}), file=sys.stderr)
        return 1
    except ClientError as error:
        print(json.dumps({"error": str(error)}), file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
