"""Malformed bodies on every route that reads one (bulk delete, trash restore, purge_all), and the rendering of
``MalformedJson`` by every family: the family's own 400/422 in its own shape, never a 5xx, nothing deleted. Also the
refusal of a query next to a body that says what to act on (``?bucket=a`` with ``{"bucket": "b"}``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from eraser.api import katapult, mixpeek, quiva, s3xml, seahorse
from eraser.api import trash as trash_api
from eraser.errors import MalformedJson
from eraser.tenancy import BucketConfiguration
from tests.openapi_check import assert_matches_openapi
from tests.support import Tenant, api_event, invoke, response_json

DEEP = "[" * 1_000 + "]" * 1_000
HUGE = "9" * 5_000
NOT_UTF8 = b'{"object_keys": ["\xff\xfe"], "path": [], "bucket": "bin", "keys": ["\xc3\x28"]}'
PURGE_ALL = "/organizations/organization/trash_objects/purge_all"


# --- rendering -------------------------------------------------------------------------------------------------------
def _event() -> APIGatewayProxyEvent:
    return APIGatewayProxyEvent(api_event("DELETE", "/s3/{bucket}/{key+}", {"bucket": "b", "key": "k"}))


def _rendered(render: Any) -> tuple[int, Any]:
    response = render(MalformedJson("json_too_deep", "Arrays and objects are nested more than 32 deep"), _event())
    return response.status_code, response.body


def test_seahorse_renders_a_malformed_body_as_its_400() -> None:
    status, body = _rendered(seahorse.error_response)
    assert status == 400
    assert json.loads(body) == {"code": 400, "success": False, "data": None, "exception": {
        "error_code": 400001, "error_message": "Bad Request: Arrays and objects are nested more than 32 deep"}}


def test_mixpeek_and_the_trash_endpoints_render_a_malformed_body_as_their_422() -> None:
    for render in (mixpeek.error_response, trash_api.error_response):
        status, body = _rendered(render)
        document = json.loads(body)
        assert status == 422 and document["status"] == 422 and document["success"] is False
        assert (document["error"]["type"], document["error"]["code"]) == ("ValidationError", "validation_error")
        assert document["detail"][0]["type"] == "json_too_deep"


def test_katapult_renders_a_malformed_body_as_its_400() -> None:
    status, body = _rendered(katapult.error_response)
    document = json.loads(body)
    assert status == 400 and document["code"] == "validation_error"
    assert document["detail"]["errors"][0]["type"] == "json_too_deep"


def test_quiva_renders_a_malformed_body_as_its_400() -> None:
    status, body = _rendered(quiva.error_response)
    assert status == 400 and json.loads(body)["error"] == "validation_error"


def test_the_s3_route_renders_a_malformed_body_as_an_s3_400() -> None:
    status, body = _rendered(s3xml.error_response)
    assert status == 400 and "<Code>InvalidRequest</Code>" in body


# --- the routes that read a body -------------------------------------------------------------------------------------
def _bulk(tenant: Tenant, body: str | bytes, query: dict[str, str] | None = None) -> dict[str, Any]:
    event = api_event("DELETE", "/v1/storage/objects", query=query or {"bucket": "photos"}, headers=tenant.headers,
                      body=body)
    response = invoke("bulk_delete", event)
    assert_matches_openapi(response, "DELETE", "/v1/storage/objects")
    return response


def _restore(tenant: Tenant, body: str | bytes, query: dict[str, str] | None = None) -> dict[str, Any]:
    event = api_event("POST", "/v1/trash/restore", query=query, headers=tenant.headers, body=body)
    response = invoke("restore_trash", event)
    assert_matches_openapi(response, "POST", "/v1/trash/restore")
    return response


def _purge_all(tenant: Tenant, body: str | bytes, query: dict[str, str] | None = None) -> dict[str, Any]:
    return invoke("trash_purge_all", api_event("POST", PURGE_ALL, query=query, headers=tenant.headers, body=body))


@pytest.fixture
def trashed(tenant: Tenant) -> Tenant:
    """``victim.txt`` live in ``photos``; ``trashed.txt`` in the trash of ``bin`` (a delete marker on top)."""
    bin_bucket = tenant.add_bucket("bin", configuration=BucketConfiguration(trash_enabled=True))
    tenant.put("victim.txt")
    tenant.put("trashed.txt", bucket=bin_bucket)
    tenant.s3.delete_object(Bucket=bin_bucket.s3_bucket, Key="trashed.txt")
    return tenant


def _everything(tenant: Tenant) -> list[Any]:
    return [tenant.versions(), tenant.versions(tenant.extra_buckets["bin"])]


MALFORMED = {
    "nested 1,000 deep": '{"object_keys": ["victim.txt"], "path": [], "x": ' + DEEP + "}",
    "list nested 1,000 deep": '{"object_keys": ' + DEEP + ', "path": []}',
    "5,000-digit integer": '{"object_keys": ["victim.txt"], "path": [], "n": ' + HUGE + "}",
    "5,000-digit integer in the list": '{"object_keys": [' + HUGE + '], "path": []}',
    "member given twice": '{"object_keys": ["nothing"], "path": [], "object_keys": ["victim.txt"]}',
    "not UTF-8": NOT_UTF8,
}
RESTORE_MALFORMED = {
    "nested 1,000 deep": '{"bucket": "bin", "keys": ["trashed.txt"], "x": ' + DEEP + "}",
    "keys nested 1,000 deep": '{"bucket": "bin", "keys": ' + DEEP + "}",
    "5,000-digit integer": '{"bucket": "bin", "keys": ["trashed.txt"], "n": ' + HUGE + "}",
    "5,000-digit integer in the list": '{"bucket": "bin", "keys": [' + HUGE + "]}",
    "member given twice": '{"bucket": "bin", "keys": ["nothing"], "keys": ["trashed.txt"]}',
    "not UTF-8": NOT_UTF8,
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_bulk_delete_refuses_a_malformed_body_with_seahorse_s_400(trashed: Tenant, body: str | bytes) -> None:
    before = _everything(trashed)
    response = _bulk(trashed, body)
    assert response["statusCode"] == 400, response["body"]
    assert response_json(response)["exception"]["error_code"] == 400001
    assert _everything(trashed) == before


@pytest.mark.parametrize("body", RESTORE_MALFORMED.values(), ids=RESTORE_MALFORMED.keys())
def test_restore_refuses_a_malformed_body_with_the_trash_422(trashed: Tenant, body: str | bytes) -> None:
    before = _everything(trashed)
    response = _restore(trashed, body)
    assert response["statusCode"] == 422, response["body"]
    assert response_json(response)["error"]["code"] == "validation_error"
    assert _everything(trashed) == before


@pytest.mark.parametrize("body", [
    '{"organization": ' + DEEP + "}", '{"organization": {"id": ' + HUGE + "}}",
    '{"organization": {"id": "x"}, "n": ' + HUGE + "}", NOT_UTF8,
    '{"organization": {"id": "org_nope"}, "organization": {"id": "ORG"}}'])
def test_purge_all_refuses_a_malformed_body_with_katapult_s_400(trashed: Tenant, body: str | bytes) -> None:
    before = _everything(trashed)
    if isinstance(body, str):
        body = body.replace("ORG", trashed.organization.id)
    response = _purge_all(trashed, body)
    assert response["statusCode"] == 400, response["body"]
    assert response_json(response)["code"] == "validation_error"
    assert _everything(trashed) == before


@pytest.mark.parametrize("key", ["trashed.txt\x00", "\x01\x0b\ufffe\uffff", "trashed.txt\r"])
def test_restore_refuses_per_key_a_key_xml_cannot_carry_before_any_s3_call(trashed: Tenant, key: str) -> None:
    before = _everything(trashed)
    response = _restore(trashed, json.dumps({"bucket": "bin", "keys": [key, "trashed.txt"]}))
    assert response["statusCode"] == 200, response["body"]
    body = response_json(response)
    assert [(error["key"], error["code"]) for error in body["errors"]] == [(key, "unsupported_key")]
    assert [restored["key"] for restored in body["restored"]] == ["trashed.txt"]
    assert trashed.keys(trashed.extra_buckets["bin"]) == ["trashed.txt"]
    assert _everything(trashed)[0] == before[0]


# --- a query next to a body that names what to act on ---------------------------------------------------------------
def test_restore_refuses_a_query_that_names_another_bucket_and_restores_nothing(trashed: Tenant) -> None:
    before = _everything(trashed)
    response = _restore(trashed, json.dumps({"bucket": "bin", "keys": ["trashed.txt"]}), query={"bucket": "photos"})
    assert response["statusCode"] == 422, response["body"]
    assert response_json(response)["detail"][0]["loc"] == ["query", "bucket"]
    assert _everything(trashed) == before


@pytest.mark.parametrize("query", [{"keys": "other.txt"}, {"bucket": "bin"}])
def test_restore_refuses_any_query_parameter(trashed: Tenant, query: dict[str, str]) -> None:
    before = _everything(trashed)
    response = _restore(trashed, json.dumps({"bucket": "bin", "keys": ["trashed.txt"]}), query=query)
    assert response["statusCode"] == 422, response["body"]
    assert _everything(trashed) == before


def test_purge_all_refuses_a_query_that_names_another_organization_and_starts_nothing(trashed: Tenant) -> None:
    before = _everything(trashed)
    response = _purge_all(trashed, json.dumps({"organization": {"id": trashed.organization.id}}),
                          query={"organization[sub_domain]": "elsewhere"})
    assert response["statusCode"] == 400, response["body"]
    assert response_json(response)["code"] == "validation_error"
    assert _everything(trashed) == before


@pytest.mark.parametrize("query", [{"bucket": "photos", "object_keys": "other.txt"},
                                   {"bucket": "photos", "path": "reports"}, {"bucket": "photos", "prefix": "x"}])
def test_bulk_delete_refuses_a_key_list_in_the_query_next_to_the_body_s(trashed: Tenant,
                                                                        query: dict[str, str]) -> None:
    before = _everything(trashed)
    response = _bulk(trashed, json.dumps({"object_keys": ["victim.txt"], "path": []}), query=query)
    assert response["statusCode"] == 400, response["body"]
    assert _everything(trashed) == before


def test_bulk_delete_refuses_a_bucket_in_the_body_next_to_the_query_s(trashed: Tenant) -> None:
    before = _everything(trashed)
    response = _bulk(trashed, json.dumps({"bucket": "bin", "object_keys": ["victim.txt"], "path": []}))
    assert response["statusCode"] == 400, response["body"]
    assert _everything(trashed) == before
