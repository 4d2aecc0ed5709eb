"""A body that is not UTF-8, sent straight to each route's handler base64-encoded, as API Gateway passes what it cannot
take for text (the local emulation does the same over HTTP; test_hostile_input.py sends it that way too). No handler
answers a 5xx, and the tenant's objects are unchanged."""

from __future__ import annotations

import base64

import pytest

from tests.reliability.routes import Route, template_routes
from tests.support import AwsStack, Tenant, api_event, invoke

ROUTES = template_routes()
NOT_UTF8 = b'{"object_keys": ["\xff\xfe"], "path": [], "bucket": "photos", "keys": ["\xc3\x28"]}\x00\x80'
# Handlers that answer a 5xx today, with the reason; each turns into a failure (XPASS, strict) once fixed.
KNOWN_DEFECTS: dict[str, str] = {}


def path_parameters(route: Route, tenant: Tenant) -> dict[str, str]:
    # DeleteObject ignores a body, as S3 does: its request names a key that does not exist.
    values = {"bucket": tenant.bucket.name, "bucket_identifier": tenant.bucket.name, "key": "not-there.txt",
              "task_id": "task_0000000000000000", "asset": "docs.js"}
    return {name: values[name] for name in route.parameters}


def bucket_query(route: Route, tenant: Tenant) -> dict[str, str]:
    # Routes whose path does not name the bucket take it as ?bucket= (an unknown parameter elsewhere: the S3 route
    # refuses one with 501 before it reads the body).
    return {} if "{bucket" in route.path else {"bucket": tenant.bucket.name}


def _param(route: Route) -> object:
    reason = KNOWN_DEFECTS.get(route.id)
    return pytest.param(route, id=route.id, marks=[pytest.mark.xfail(strict=True, reason=reason)] if reason else [])


@pytest.mark.parametrize("route", [_param(route) for route in ROUTES])
def test_a_body_that_is_not_utf8_is_refused_by_every_handler(stack: AwsStack, tenant: Tenant, route: Route) -> None:
    tenant.put("victim.txt")
    before = tenant.versions()
    event = api_event(route.method, route.path, path_parameters(route, tenant), query=bucket_query(route, tenant),
                      headers=tenant.headers, body=NOT_UTF8)
    assert event["isBase64Encoded"] and base64.b64decode(event["body"]) == NOT_UTF8

    response = invoke(route.code_dir, event)

    # S3's 501 NotImplemented (an S3 operation Eraser does not implement) is a refusal, not a failure.
    refused_as_not_implemented = response["statusCode"] == 501 and "<Code>NotImplemented</Code>" in response["body"]
    assert response["statusCode"] < 500 or refused_as_not_implemented, response
    assert tenant.versions() == before


@pytest.mark.parametrize("route", ROUTES, ids=[route.id for route in ROUTES])
def test_a_text_body_holding_a_lone_surrogate_is_refused_by_every_handler(stack: AwsStack, tenant: Tenant,
                                                                           route: Route) -> None:
    # An event's JSON can carry "\ud800" in a text body; no encoding of it is UTF-8, and reading it for a signature
    # or a document must not raise.
    tenant.put("victim.txt")
    before = tenant.versions()
    event = api_event(route.method, route.path, path_parameters(route, tenant), query=bucket_query(route, tenant),
                      headers=tenant.headers, body='{"object_keys": ["\ud800"], "path": []}\ud800')
    assert not event["isBase64Encoded"] and "\ud800" in event["body"]

    response = invoke(route.code_dir, event)

    refused_as_not_implemented = response["statusCode"] == 501 and "<Code>NotImplemented</Code>" in response["body"]
    assert response["statusCode"] < 500 or refused_as_not_implemented, response
    assert tenant.versions() == before
