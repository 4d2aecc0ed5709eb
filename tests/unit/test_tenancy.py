"""Bucket lookups: by id or by name, within the caller's organization, in one DynamoDB request."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from eraser import aws, errors
from eraser.clock import new_id, utc_now
from eraser.tenancy import Bucket, BucketConfiguration, TenancyRepository
from tests.support import dynamodb_key_limits, register_bucket


@pytest.fixture
def dynamodb_calls(stack) -> Iterator[list[str]]:
    """Every DynamoDB operation the domain sends, in order."""
    with dynamodb_key_limits() as sent:
        yield sent


def test_a_bucket_is_found_by_name_with_one_request(tenant, dynamodb_calls):
    bucket = TenancyRepository().find_bucket(tenant.organization.id, "photos")
    assert bucket == tenant.bucket
    assert Counter(dynamodb_calls) == Counter({"BatchGetItem": 1})


def test_a_bucket_is_found_by_id_with_one_request(tenant, dynamodb_calls):
    bucket = TenancyRepository().find_bucket(tenant.organization.id, tenant.bucket.id)
    assert bucket == tenant.bucket
    assert Counter(dynamodb_calls) == Counter({"BatchGetItem": 1})


def test_the_name_items_copy_carries_the_whole_bucket(stack, tenant):
    configured = register_bucket(tenant.organization, "archive", versioned=True,
                                 configuration=BucketConfiguration(trash_enabled=True, trash_retention_days=7))
    found = TenancyRepository().find_bucket(tenant.organization.id, "archive")
    assert found == configured
    assert found.configuration.trash_retention_days == 7 and found.configuration.trash_enabled


def test_an_id_wins_over_a_name_that_spells_it(tenant):
    # Names are free text, so one may spell another bucket's id; the id is what the caller meant.
    impostor = Bucket(id=new_id("bkt"), name=tenant.bucket.id, organization_id=tenant.organization.id,
                      s3_bucket="eraser-test-impostor", created_at=utc_now())
    TenancyRepository().put_bucket(impostor)
    assert TenancyRepository().find_bucket(tenant.organization.id, tenant.bucket.id) == tenant.bucket
    assert TenancyRepository().find_bucket(tenant.organization.id, impostor.id) == impostor


def test_a_name_item_without_the_copy_still_leads_to_its_bucket(stack, tenant, dynamodb_calls):
    # Name items written before they carried the bucket's copy hold only its id.
    table = aws.table(stack.environment["TENANCY_TABLE"])
    key = {"pk": f"ORG#{tenant.organization.id}", "sk": "BUCKETNAME#photos"}
    table.update_item(Key=key, UpdateExpression="REMOVE #copy", ExpressionAttributeNames={"#copy": "bucket"})
    dynamodb_calls.clear()
    assert TenancyRepository().find_bucket(tenant.organization.id, "photos") == tenant.bucket
    assert Counter(dynamodb_calls) == Counter({"BatchGetItem": 1, "GetItem": 1})


@pytest.mark.parametrize("identifier", ["", "nope", "bkt_0000000000000000"])
def test_unknown_identifiers_are_not_found(tenant, identifier):
    with pytest.raises(errors.BucketNotFound):
        TenancyRepository().find_bucket(tenant.organization.id, identifier)


def test_another_organizations_bucket_is_not_found_by_name_or_id(tenant, other_tenant):
    repository = TenancyRepository()
    # Both organizations have a bucket named "photos": each sees its own.
    assert repository.find_bucket(tenant.organization.id, "photos") == tenant.bucket
    assert repository.find_bucket(other_tenant.organization.id, "photos") == other_tenant.bucket
    with pytest.raises(errors.BucketNotFound):
        repository.find_bucket(tenant.organization.id, other_tenant.bucket.id)


def test_a_deleted_bucket_is_found_neither_by_name_nor_by_id(tenant):
    repository = TenancyRepository()
    repository.delete_bucket_records(tenant.bucket)
    for identifier in ("photos", tenant.bucket.id):
        with pytest.raises(errors.BucketNotFound):
            repository.find_bucket(tenant.organization.id, identifier)


class _Throttled:
    """Answers BatchGetItem as DynamoDB does under throttling: every key unprocessed, ``times`` times."""

    def __init__(self, real, times: int) -> None:  # type: ignore[no-untyped-def]
        self.real, self.left, self.calls = real, times, 0

    def batch_get_item(self, RequestItems):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.left > 0:
            self.left -= 1
            return {"Responses": {}, "UnprocessedKeys": RequestItems}
        return self.real.batch_get_item(RequestItems=RequestItems)


def test_unprocessed_keys_are_asked_for_again(tenant, monkeypatch):
    repository = TenancyRepository()
    throttled = _Throttled(aws.dynamodb(), times=2)
    monkeypatch.setattr(aws, "dynamodb", lambda: throttled)
    monkeypatch.setattr("eraser.tenancy.time.sleep", lambda seconds: None)
    assert repository.find_bucket(tenant.organization.id, "photos") == tenant.bucket
    assert throttled.calls == 3


def test_a_lookup_throttled_throughout_is_unavailable_not_missing(tenant, monkeypatch):
    repository = TenancyRepository()
    # "Not found" would tell a caller its bucket does not exist; the truth is that we could not look.
    throttled = _Throttled(aws.dynamodb(), times=100)
    monkeypatch.setattr(aws, "dynamodb", lambda: throttled)
    monkeypatch.setattr("eraser.tenancy.time.sleep", lambda seconds: None)
    with pytest.raises(errors.ServiceUnavailable):
        repository.find_bucket(tenant.organization.id, "photos")


@pytest.mark.parametrize("identifier", ["x" * 2000, "photos\ud800"])
def test_an_identifier_that_cannot_be_a_dynamodb_key_is_not_found_without_asking(tenant, identifier):
    # DynamoDB refuses such keys with a ValidationException (a 500 for a hostile query string); moto does not.
    with dynamodb_key_limits() as sent:
        with pytest.raises(errors.BucketNotFound):
            TenancyRepository().find_bucket(tenant.organization.id, identifier)
    assert sent == []


def test_the_longest_identifier_that_fits_a_key_is_looked_up(tenant):
    identifier = "x" * (1024 - len("BUCKETNAME#"))
    with dynamodb_key_limits() as sent:
        with pytest.raises(errors.BucketNotFound):
            TenancyRepository().find_bucket(tenant.organization.id, identifier)
    assert sent == ["BatchGetItem"]
