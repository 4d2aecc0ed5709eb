"""openapi/eraser.yaml and the handlers agree: requests generated from the document's own schemas (query, path and
header parameters, request bodies) are sent to each JSON route's handler in process, on moto.

- A request the document allows is never refused as invalid (400/422, other than the documented refusals that no
  schema can state: a page token this service did not issue) and never answered with a 5xx.
- A request the document does not allow (a mutated body, arbitrary JSON, a parameter out of its schema or missing)
  is a 4xx, never a 2xx or a 5xx.
- Every answer is one the document lists for the operation, with the documented body.

The document is the oracle: whether a generated request is allowed is decided by validating it against the
document's schemas, never by the code under test. A rule the code enforces and the document does not state (or the
reverse) fails here, with the smallest request that shows it. The examples are bounded and derandomized so the test
is the same on every run; ``ERASER_FUZZ_EXAMPLES`` raises the bound for a deeper local run.
"""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from openapi_schema_validator import OAS31Validator, oas31_format_checker

from eraser import config
from eraser.tenancy import BucketConfiguration
from tests.openapi_check import assert_matches_openapi, openapi_document, python_pattern, resolve
from tests.reliability.routes import PUBLIC_ROUTE_IDS, template_routes
from tests.support import AwsStack, Tenant, api_event, dynamodb_key_limits, invoke, response_json

EXAMPLES = int(os.environ.get("ERASER_FUZZ_EXAMPLES", "40"))
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                HealthCheck.filter_too_much, HealthCheck.data_too_large])
# The S3 endpoint (``/s3`` and below) speaks XML and the docs serve HTML, scripts and YAML; each is tested in its own
# files.
JSON_ROUTES = sorted((route for route in template_routes()
                      if not (route.path + "/").startswith("/s3/") and route.id not in PUBLIC_ROUTE_IDS),
                     key=lambda route: route.id)
PLAIN_BUCKET = "photos"
TRASH_BUCKET = "bin"
VALIDATION_STATUSES = {400, 422}
# Refusals of a schema-valid request that no schema can state, by the error code in the family's body.
SEMANTIC_REFUSALS = {"invalid_page_token"}


# --- the document's schemas, as hypothesis-jsonschema and the validator take them ---------------------------------
def inline(node: Any, depth: int = 0) -> Any:
    """``node`` with every local ``$ref`` replaced by its target (the request schemas have no cycles), and its
    patterns in Python's dialect (the validator and the generator use ``re``)."""
    assert depth < 30, "reference cycle in a request schema"
    if isinstance(node, dict):
        if "$ref" in node:
            return inline(resolve({"$ref": node["$ref"]}), depth + 1)
        inlined = {name: inline(value, depth + 1) for name, value in node.items()}
        if isinstance(inlined.get("pattern"), str):
            inlined["pattern"] = python_pattern(inlined["pattern"])
        return inlined
    if isinstance(node, list):
        return [inline(item, depth + 1) for item in node]
    return node


def utf8_byte_limits_hold(value: Any, schema: dict[str, Any]) -> bool:
    """JSON Schema counts characters; the document states S3's byte limits as ``x-maxUtf8Bytes`` beside
    ``maxLength``, and a value over one is not allowed by the document."""
    if isinstance(value, str) and "x-maxUtf8Bytes" in schema:
        if len(value.encode("utf-8", "surrogatepass")) > schema["x-maxUtf8Bytes"]:
            return False
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return all(utf8_byte_limits_hold(item, properties.get(name, {})) for name, item in value.items())
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return all(utf8_byte_limits_hold(item, schema["items"]) for item in value)
    return True


def allows(schema: dict[str, Any], value: Any) -> bool:
    validator = OAS31Validator(schema, format_checker=oas31_format_checker)
    return validator.is_valid(value) and utf8_byte_limits_hold(value, schema)


def any_json() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)


# --- one operation ---------------------------------------------------------------------------------------------
@dataclass
class Parameter:
    name: str
    location: str  # path, query or header
    required: bool
    schema: dict[str, Any]


@dataclass
class Operation:
    method: str
    path: str
    code_dir: str
    parameters: list[Parameter]
    body_schema: dict[str, Any] | None
    body_required: bool

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def document_operations() -> list[Operation]:
    paths = openapi_document()["paths"]
    operations = []
    for route in JSON_ROUTES:
        operation = paths[route.path][route.method.lower()]
        parameters = [Parameter(item["name"], item["in"], bool(item.get("required")), inline(item["schema"]))
                      for item in map(resolve, operation.get("parameters", []))]
        body = resolve(operation.get("requestBody") or {})
        body_schema = inline(body["content"]["application/json"]["schema"]) if body else None
        operations.append(Operation(route.method, route.path, route.code_dir, parameters, body_schema,
                                    bool(body.get("required"))))
    return operations


@dataclass
class World:
    """What generated requests may name, so that they reach past the lookups to the rules behind them."""

    tenant: Tenant
    task_ids: list[str] = field(default_factory=list)

    def known_values(self, name: str) -> list[Any]:
        organization = self.tenant.organization
        return {"bucket": [PLAIN_BUCKET, TRASH_BUCKET], "bucket_identifier": [PLAIN_BUCKET, TRASH_BUCKET],
                "task_id": self.task_ids, "id": [organization.id], "sub_domain": [organization.sub_domain],
                "keys": [["trashed.txt"]], "object_keys": [["victim.txt"]]}.get(name, [])


def leaning_on(schema: dict[str, Any], values: list[Any]) -> dict[str, Any]:
    """``schema``, generating one of ``values`` (those it allows) half of the time."""
    allowed = [value for value in values if allows(schema, value)]
    return {"anyOf": [{"enum": allowed}, schema]} if allowed else schema


def with_known_values(schema: dict[str, Any], world: World) -> dict[str, Any]:
    """The body schema with each property leaning on the world's values (the schema stays what it allows)."""
    schema = copy.deepcopy(schema)
    for node in _object_schemas(schema):
        for name, property_schema in node.get("properties", {}).items():
            node["properties"][name] = leaning_on(property_schema, world.known_values(name))
    return schema


def _object_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found = [schema] if "properties" in schema else []
    for child in schema.get("properties", {}).values():
        if isinstance(child, dict):
            found += _object_schemas(child)
    return found


@dataclass
class Request:
    path: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None
    has_body: bool = False


def serialized(value: Any) -> str:
    return str(value) if not isinstance(value, str) else value


def parameter_values(operation: Operation, world: World, draw: Any) -> dict[str, dict[str, str]]:
    values: dict[str, dict[str, str]] = {"path": {}, "query": {}, "header": {}}
    for parameter in operation.parameters:
        if not parameter.required and draw(st.booleans()):
            continue
        schema = leaning_on(parameter.schema, world.known_values(parameter.name))
        values[parameter.location][parameter.name] = serialized(draw(from_schema(schema)))
    return values


@st.composite
def valid_requests(draw: Any, operation: Operation, world: World) -> Request:
    values = parameter_values(operation, world, draw)
    request = Request(values["path"], values["query"], values["header"])
    if operation.body_schema is not None:
        body = draw(from_schema(with_known_values(operation.body_schema, world)))
        assume(utf8_byte_limits_hold(body, operation.body_schema))
        request.body, request.has_body = body, True
    return request


def mutated_body(draw: Any, body: Any) -> Any:
    """``body`` with one change a client could make by mistake: a field dropped, added or retyped, or another
    JSON document altogether."""
    kind = draw(st.sampled_from(["drop", "add", "retype", "retype inner", "replace"]))
    if not isinstance(body, dict) or kind == "replace":
        return draw(any_json())
    body = copy.deepcopy(body)
    target = body
    if kind == "retype inner":
        inner = [name for name, value in body.items() if isinstance(value, dict)]
        if inner:
            target = body[draw(st.sampled_from(sorted(inner)))]
    if kind == "drop" and target:
        del target[draw(st.sampled_from(sorted(target)))]
    elif kind == "add":
        target[draw(st.text(min_size=1, max_size=12))] = draw(any_json())
    elif target:
        target[draw(st.sampled_from(sorted(target)))] = draw(any_json())
    return body


@st.composite
def invalid_requests(draw: Any, operation: Operation, world: World) -> Request:
    """A valid request with one part out of the document: the body, or one query or header parameter (path
    parameters are any non-empty string, and an empty one does not reach the route)."""
    request = draw(valid_requests(operation, world))
    mutable = [parameter for parameter in operation.parameters if parameter.location in ("query", "header")]
    choices = (["body"] if operation.body_schema is not None else []) + [parameter.name for parameter in mutable]
    assume(choices)
    choice = draw(st.sampled_from(choices))
    if choice == "body":
        request.body = mutated_body(draw, request.body)
        return request
    parameter = next(parameter for parameter in mutable if parameter.name == choice)
    where = request.query if parameter.location == "query" else request.headers
    if parameter.required and draw(st.booleans()):
        where.pop(parameter.name, None)
    elif parameter.schema.get("type") == "integer":
        # Only values that denote no integer, or one out of range: "+5" or "05" are a matter of serialization.
        where[parameter.name] = draw(st.from_regex(r"[a-z]{1,5}", fullmatch=True)
                                     | st.integers(max_value=0).map(str) | st.integers(min_value=10**3 + 1).map(str))
    else:
        where[parameter.name] = draw(st.text(max_size=300))
    return request


def document_allows(operation: Operation, request: Request) -> bool:
    for parameter in operation.parameters:
        where = {"path": request.path, "query": request.query, "header": request.headers}[parameter.location]
        if parameter.name not in where:
            if parameter.required:
                return False
            continue
        raw = where[parameter.name]
        value: Any = raw
        if parameter.schema.get("type") == "integer":
            if not re.fullmatch(r"-?[0-9]+", raw):
                return False
            value = int(raw)
        if not allows(parameter.schema, value):
            return False
    if operation.body_schema is not None:
        return request.has_body and allows(operation.body_schema, request.body)
    return True


def send(operation: Operation, world: World, request: Request) -> dict[str, Any]:
    headers = {**world.tenant.headers, **request.headers}
    body = json.dumps(request.body) if request.has_body else None
    event = api_event(operation.method, operation.path, request.path or None, query=request.query or None,
                      headers=headers, body=body)
    with dynamodb_key_limits():  # DynamoDB refuses oversized keys; moto does not
        response = invoke(operation.code_dir, event)
    assert_matches_openapi(response, operation.method, operation.path)
    return response


def error_code(body: Any) -> str | None:
    """The family's machine-readable code of an error body (Mixpeek ``error.code``, Katapult ``code``)."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("error"), dict):
        return body["error"].get("code")
    return body.get("code") if isinstance(body.get("code"), str) else None


def describe(request: Request, response: dict[str, Any]) -> str:
    return f"request {request!r}\nanswered {response['statusCode']}: {str(response.get('body'))[:600]}"


# --- the world -----------------------------------------------------------------------------------------------------
@pytest.fixture
def world(stack: AwsStack, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> World:
    """``photos`` with an object, the trash-enabled ``bin`` with one trashed key, one task to read, and rate limits
    out of the way (a 429 is a fine answer, but it would hide what lies behind it)."""
    for operation in ("PURGE_ALL_TRASH", "PURGE_BUCKET", "DELETE_BUCKET", "BULK_DELETE_TASK"):
        monkeypatch.setenv(f"RATE_LIMIT_{operation}", "100000")
    config.settings.cache_clear()
    tenant.put("victim.txt")
    trash_bucket = tenant.add_bucket(TRASH_BUCKET, configuration=BucketConfiguration(trash_enabled=True))
    tenant.put("trashed.txt", bucket=trash_bucket)
    tenant.s3.delete_object(Bucket=trash_bucket.s3_bucket, Key="trashed.txt")
    started = invoke("trash_purge_all", api_event("POST", "/organizations/organization/trash_objects/purge_all",
                                                  headers=tenant.headers,
                                                  body={"organization": {"id": tenant.organization.id}}))
    assert started["statusCode"] == 200, started["body"]
    return World(tenant, [response_json(started)["task"]["id"]])


OPERATIONS = document_operations()


def test_every_json_route_of_the_template_is_fuzzed():
    assert {operation.id for operation in OPERATIONS} == {route.id for route in JSON_ROUTES}
    assert len(OPERATIONS) >= 9


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.id)
def test_a_request_the_document_allows_is_not_refused_as_invalid_nor_a_5xx(world: World, operation: Operation):
    @FUZZ_SETTINGS
    @given(request=valid_requests(operation, world))
    def check(request: Request) -> None:
        assert document_allows(operation, request), "the generator left the document"
        response = send(operation, world, request)
        status = response["statusCode"]
        assert status < 500, describe(request, response)
        if status in VALIDATION_STATUSES:
            assert error_code(response_json(response)) in SEMANTIC_REFUSALS, describe(request, response)

    check()


@pytest.mark.parametrize("operation", [operation for operation in OPERATIONS
                                       if operation.body_schema is not None
                                       or any(parameter.location != "path" for parameter in operation.parameters)],
                         ids=lambda operation: operation.id)
def test_a_request_the_document_does_not_allow_is_a_4xx(world: World, operation: Operation):
    @FUZZ_SETTINGS
    @given(request=invalid_requests(operation, world))
    def check(request: Request) -> None:
        allowed = document_allows(operation, request)
        response = send(operation, world, request)
        status = response["statusCode"]
        assert status < 500, describe(request, response)
        if allowed:  # the mutation happened to stay inside the document
            if status in VALIDATION_STATUSES:
                assert error_code(response_json(response)) in SEMANTIC_REFUSALS, describe(request, response)
        else:
            assert 400 <= status < 500, describe(request, response)

    check()
