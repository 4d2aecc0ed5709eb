"""Organizations and the buckets they own, stored in the tenancy table.

Items (one table, ``pk``/``sk``):
- ``ORG#<id>`` / ``ORG``: the organization
- ``SUBDOMAIN#<sub_domain>`` / ``ORG``: lookup of an organization by sub domain
- ``ORG#<id>`` / ``BUCKET#<bucket id>``: a bucket
- ``ORG#<id>`` / ``BUCKETNAME#<name>``: lookup of a bucket by its name within the organization, with a copy of the
  bucket (``bucket``), so that a request naming its bucket needs one read, not two

Every bucket read is keyed by the caller's organization, so a bucket of another organization is simply not found.
A bucket's two items are written together once (``put_bucket``, always with a new id) and deleted together; nothing
updates a bucket in place, which is what keeps the copy in the name item true.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from enum import StrEnum
from typing import Any

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from eraser import aws
from eraser.config import settings
from eraser.errors import BucketNotFound, Conflict, OrganizationNotFound, ServiceUnavailable
from eraser.storage.retries import full_jitter

ACCOUNT_ID = re.compile(r"^\d{12}$")
SUB_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# S3's rules for bucket names (3-63 chars, lowercase letters, digits, dots and hyphens).
S3_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class OrganizationStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    NOT_ACTIVATED = "not_activated"


class Organization(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    sub_domain: str
    account_id: str = Field(description="12-digit AWS account id that owns the organization's S3 buckets")
    status: OrganizationStatus = OrganizationStatus.ACTIVE
    trash_retention_days: int = Field(default=30, ge=1)
    created_at: datetime

    @field_validator("account_id")
    @classmethod
    def _twelve_digits(cls, value: str) -> str:
        if not ACCOUNT_ID.match(value):
            raise ValueError("account_id must be 12 digits")
        return value

    @field_validator("sub_domain")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        if not SUB_DOMAIN.match(value):
            raise ValueError("sub_domain must be a DNS label (lowercase letters, digits, hyphens)")
        return value


class BucketConfiguration(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Deletes go to trash (S3 versioning keeps the deleted version as noncurrent) instead of being permanent.
    trash_enabled: bool = False
    # Days a trashed object is kept before scheduled purges remove it; None means the organization's default.
    trash_retention_days: int | None = Field(default=None, ge=1)


class Bucket(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    organization_id: str
    s3_bucket: str
    created_at: datetime
    configuration: BucketConfiguration = BucketConfiguration()

    @field_validator("s3_bucket")
    @classmethod
    def _s3_name(cls, value: str) -> str:
        if not S3_BUCKET_NAME.match(value):
            raise ValueError("not a valid S3 bucket name")
        return value


def _org_key(organization_id: str) -> str:
    return f"ORG#{organization_id}"


class TenancyRepository:
    """DynamoDB persistence of organizations and buckets."""

    def __init__(self, table_name: str | None = None) -> None:
        self._table = aws.table(table_name or settings().tenancy_table)

    # --- organizations -----------------------------------------------------------------------------------------------
    def put_organization(self, organization: Organization) -> None:
        item = organization.model_dump(mode="json")
        try:
            aws.dynamodb_client().transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": _serialize({"pk": f"SUBDOMAIN#{organization.sub_domain}", "sk": "ORG",
                                                "organization_id": organization.id}),
                            "ConditionExpression": "attribute_not_exists(pk) OR organization_id = :id",
                            "ExpressionAttributeValues": _serialize({":id": organization.id}),
                        }
                    },
                    {"Put": {"TableName": self._table.name,
                             "Item": _serialize({"pk": _org_key(organization.id), "sk": "ORG", **item})}},
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                raise Conflict(f"sub_domain '{organization.sub_domain}' is taken") from error
            raise

    def get_organization(self, organization_id: str) -> Organization:
        item = self._table.get_item(Key={"pk": _org_key(organization_id), "sk": "ORG"}).get("Item")
        if not item:
            raise OrganizationNotFound()
        return Organization.model_validate(_strip_keys(item))

    def find_organization_by_sub_domain(self, sub_domain: str) -> Organization:
        item = self._table.get_item(Key={"pk": f"SUBDOMAIN#{sub_domain}", "sk": "ORG"}).get("Item")
        if not item:
            raise OrganizationNotFound()
        return self.get_organization(str(item["organization_id"]))

    def list_organizations(self) -> list[Organization]:
        """All organizations (a scan: for the scheduled trash purge and the admin command, never an API path)."""
        organizations: list[Organization] = []
        kwargs: dict[str, Any] = {"FilterExpression": "sk = :org AND begins_with(pk, :prefix)",
                                  "ExpressionAttributeValues": {":org": "ORG", ":prefix": "ORG#"}}
        while True:
            page = self._table.scan(**kwargs)
            organizations += [Organization.model_validate(_strip_keys(item)) for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return organizations
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def set_organization_status(self, organization_id: str, status: OrganizationStatus) -> None:
        self._table.update_item(
            Key={"pk": _org_key(organization_id), "sk": "ORG"},
            UpdateExpression="SET #status = :status",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":status": status.value},
        )

    # --- buckets -----------------------------------------------------------------------------------------------------
    def put_bucket(self, bucket: Bucket) -> None:
        item = bucket.model_dump(mode="json")
        try:
            aws.dynamodb_client().transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": _serialize({"pk": _org_key(bucket.organization_id), "sk": f"BUCKETNAME#{bucket.name}",
                                                "bucket_id": bucket.id, "bucket": item}),
                            "ConditionExpression": "attribute_not_exists(pk) OR bucket_id = :id",
                            "ExpressionAttributeValues": _serialize({":id": bucket.id}),
                        }
                    },
                    {"Put": {"TableName": self._table.name,
                             "Item": _serialize({"pk": _org_key(bucket.organization_id), "sk": f"BUCKET#{bucket.id}",
                                                 **item})}},
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                raise Conflict(f"bucket name '{bucket.name}' is taken in this organization") from error
            raise

    def get_bucket(self, organization_id: str, bucket_id: str) -> Bucket:
        item = self._table.get_item(Key={"pk": _org_key(organization_id), "sk": f"BUCKET#{bucket_id}"}).get("Item")
        if not item:
            raise BucketNotFound(bucket_id)
        return Bucket.model_validate(_strip_keys(item))

    def find_bucket(self, organization_id: str, identifier: str) -> Bucket:
        """A bucket of this organization by id or by name (an id wins); another organization's bucket is not found.

        One BatchGetItem reads both candidates: every bulk, purge and delete request starts here."""
        by_id_key = {"pk": _org_key(organization_id), "sk": f"BUCKET#{identifier}"}
        by_name_key = {"pk": _org_key(organization_id), "sk": f"BUCKETNAME#{identifier}"}
        if not identifier or not aws.fits_dynamodb_key(by_name_key["sk"], aws.SORT_KEY_MAX_BYTES):
            raise BucketNotFound(identifier)
        found = {item["sk"]: item for item in self._get_items([by_id_key, by_name_key])}
        if by_id_key["sk"] in found:
            return Bucket.model_validate(_strip_keys(found[by_id_key["sk"]]))
        lookup = found.get(by_name_key["sk"])
        if not lookup:
            raise BucketNotFound(identifier)
        if isinstance(lookup.get("bucket"), dict):
            return Bucket.model_validate(lookup["bucket"])
        # A name item written before it carried the bucket's copy.
        return self.get_bucket(organization_id, str(lookup["bucket_id"]))

    def _get_items(self, keys: list[dict[str, str]]) -> list[dict[str, Any]]:
        """The items of ``keys`` that exist. BatchGetItem may leave keys unprocessed under throttling; botocore does
        not retry those, so this does, with a short backoff."""
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {self._table.name: {"Keys": keys}}
        for attempt in range(_BATCH_GET_ATTEMPTS):
            answer = aws.dynamodb().batch_get_item(RequestItems=request)
            items += answer.get("Responses", {}).get(self._table.name, [])
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return items
            time.sleep(full_jitter(attempt, base_seconds=0.05, cap_seconds=1.0))
        raise ServiceUnavailable("The bucket lookup is being throttled, please try again later")

    def list_buckets(self, organization_id: str) -> list[Bucket]:
        buckets: list[Bucket] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(_org_key(organization_id))
                                  & Key("sk").begins_with("BUCKET#")}
        while True:
            page = self._table.query(**kwargs)
            buckets += [Bucket.model_validate(_strip_keys(item)) for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return buckets
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def delete_bucket_records(self, bucket: Bucket) -> None:
        """Remove the bucket and its name lookup (the last step of deleting a bucket)."""
        with self._table.batch_writer() as batch:
            batch.delete_item(Key={"pk": _org_key(bucket.organization_id), "sk": f"BUCKETNAME#{bucket.name}"})
            batch.delete_item(Key={"pk": _org_key(bucket.organization_id), "sk": f"BUCKET#{bucket.id}"})


_BATCH_GET_ATTEMPTS = 8


def _strip_keys(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name not in ("pk", "sk")}


_SERIALIZER = TypeSerializer()


def _serialize(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _SERIALIZER.serialize(value) for name, value in item.items()}
