"""openapi/eraser.yaml is a valid OpenAPI 3.1 document: its schemas compile, its references resolve, its examples
match their schemas, and it documents every JSON route the template declares."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator

from eraser.auth import Scope
from local.template import load_template
from tests.openapi_check import (
    HTTP_METHODS,
    JSON_MEDIA_TYPE,
    assert_matches_openapi,
    json_pointer,
    openapi_document,
    python_pattern,
    resolve,
    schema_validator,
)

# The S3-compatible endpoint (every /s3 route) answers in S3's XML (Amazon S3's API reference); the docs answer HTML,
# scripts and YAML.
XML_ROUTES = {(event["Properties"]["Method"].upper(), event["Properties"]["Path"])
              for resource in load_template()["Resources"].values() if resource["Type"] == "AWS::Serverless::Function"
              for event in resource["Properties"].get("Events", {}).values()
              if event["Type"] == "Api" and (event["Properties"]["Path"] + "/").startswith("/s3/")}
DOCS_ROUTES = {("GET", "/docs"), ("GET", "/docs/{asset}"), ("GET", "/openapi.yaml")}
NON_JSON_MEDIA_TYPES = {"XML": {"application/xml"}, "DOCS": {"text/html", "text/javascript", "text/css",
                                                                  "application/yaml", JSON_MEDIA_TYPE}}


def walk(node: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    yield pointer, node
    if isinstance(node, dict):
        for name, child in node.items():
            yield from walk(child, pointer + json_pointer(name))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from walk(child, pointer + json_pointer(str(index)))


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation


def media_types() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (pointer, media type object) under request bodies and responses, references followed."""
    document = openapi_document()
    for method, path, operation in operations():
        base = json_pointer("paths", path, method.lower())
        body = operation.get("requestBody")
        if body:
            for name, media in resolve(body).get("content", {}).items():
                yield base + json_pointer("requestBody", "content", name), media
        for status, response in operation["responses"].items():
            pointer = base + json_pointer("responses", status)
            if "$ref" in response:
                pointer = response["$ref"][1:]
            for name, media in resolve(response).get("content", {}).items():
                yield pointer + json_pointer("content", name), media
    for name, response in document["components"]["responses"].items():
        for media_name, media in response.get("content", {}).items():
            yield json_pointer("components", "responses", name, "content", media_name), media


def test_document_is_openapi_3_1():
    document = openapi_document()
    assert document["openapi"].startswith("3.1.")
    assert {"title", "version", "description"} <= set(document["info"])
    assert "/s3/{bucket}/{key+}" in document["info"]["description"], "the XML endpoint is named"


def test_document_passes_the_openapi_spec_validator():
    spec_validator = pytest.importorskip("openapi_spec_validator")
    spec_validator.validate(openapi_document())


def test_every_local_reference_resolves():
    references = [(pointer, node["$ref"]) for pointer, node in walk(openapi_document())
                  if isinstance(node, dict) and isinstance(node.get("$ref"), str)]
    assert references
    for pointer, reference in references:
        assert reference.startswith("#/"), f"{pointer}: only local references are used, not {reference}"
        resolve({"$ref": reference})


@pytest.mark.parametrize("name", sorted(openapi_document()["components"]["schemas"]))
def test_each_component_schema_compiles(name):
    schema = openapi_document()["components"]["schemas"][name]
    OAS31Validator.check_schema(schema)


def test_each_inline_schema_compiles():
    inline = [media["schema"] for _, media in media_types() if "schema" in media]
    inline += [resolve(parameter)["schema"] for _, _, operation in operations()
               for parameter in operation.get("parameters", [])]
    assert inline
    for schema in inline:
        OAS31Validator.check_schema(schema)


def test_every_example_matches_its_schema():
    checked = 0
    for pointer, media in media_types():
        if "example" not in media:
            continue
        validator = schema_validator(pointer + json_pointer("schema"))
        problems = [problem.message for problem in validator.iter_errors(media["example"])]
        assert not problems, f"{pointer}: {problems}"
        checked += 1
    assert checked >= 10


def test_operations_are_complete():
    known_scopes = {scope.value for scope in Scope}
    schemes = set(openapi_document()["components"]["securitySchemes"])
    operation_ids = []
    for method, path, operation in operations():
        label = f"{method} {path}"
        operation_ids.append(operation["operationId"])
        if set(operation["responses"]) == {"501"}:
            # The S3 operations Eraser does not implement never succeed, and answer 501 NotImplemented before
            # credentials are read: they have no 2xx to document and no credentials to name.
            assert (method, path) in XML_ROUTES, f"{label}: only S3 operations are documented as not implemented"
            assert operation["security"] == [], f"{label}: its 501 comes before credentials are read"
            continue
        assert any(status.startswith("2") for status in operation["responses"]), f"{label}: no success response"
        if (method, path) in DOCS_ROUTES:
            assert operation["security"] == [], f"{label}: the docs are served without credentials"
        else:
            assert "500" in operation["responses"], f"{label}: the family's 500 is not documented"
            assert operation["security"], f"{label}: no credentials named"
        for requirement in operation["security"]:
            for scheme, scopes in requirement.items():
                assert scheme in schemes, label
                assert set(scopes) <= known_scopes, f"{label}: unknown scopes {scopes}"
        allowed = (NON_JSON_MEDIA_TYPES["XML"] if (method, path) in XML_ROUTES
                   else NON_JSON_MEDIA_TYPES["DOCS"] if (method, path) in DOCS_ROUTES else {JSON_MEDIA_TYPE})
        for status, response in operation["responses"].items():
            content = resolve(response).get("content", {})
            assert set(content) <= allowed, f"{label} {status}: {sorted(allowed)} only"
    assert len(operation_ids) == len(set(operation_ids)), "operationIds are unique"


def test_every_route_of_the_template_is_documented():
    template = load_template()
    routes = {(event["Properties"]["Method"].upper(), event["Properties"]["Path"])
              for resource in template["Resources"].values() if resource["Type"] == "AWS::Serverless::Function"
              for event in resource["Properties"].get("Events", {}).values() if event["Type"] == "Api"}
    assert ("DELETE", "/v1/storage/objects") in routes
    documented = {(method, path) for method, path, _ in operations()}
    assert routes <= documented, f"undocumented routes: {sorted(routes - documented)}"
    assert XML_ROUTES | DOCS_ROUTES <= routes


# --- the helper other tests use --------------------------------------------------------------------------------------
def _response(status: int, body: str | None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json", **(headers or {})}, "body": body}


def test_helper_accepts_a_documented_answer():
    body = '{"code": 404, "success": false, "data": null, "exception": {"error_code": 404001, "error_message": "x"}}'
    assert assert_matches_openapi(_response(404, body), "DELETE", "/v1/storage/objects")["code"] == 404


@pytest.mark.parametrize(("response", "complaint"), [
    pytest.param(_response(418, "{}"), "does not list", id="undocumented status"),
    pytest.param(_response(404, '{"code": 404, "success": false, "exception": {"error_code": "E1"}}'),
                 "does not match", id="wrong body"),
    pytest.param(_response(429, '{"code": 429, "success": false, "data": null, '
                                '"exception": {"error_code": 429001, "error_message": "x"}}'),
                 "Retry-After", id="missing required header"),
    pytest.param({**_response(200, "<xml/>"), "headers": {"Content-Type": "application/xml"}}, "Content-Type",
                 id="not JSON"),
])
def test_helper_rejects_what_the_document_does_not_promise(response, complaint):
    with pytest.raises(AssertionError, match=complaint):
        assert_matches_openapi(response, "DELETE", "/v1/storage/objects")


def test_helper_follows_references_to_shared_responses():
    body = '{"success": false, "status": 422, "error": {"message": "m", "type": "ValidationError"}}'
    with pytest.raises(AssertionError, match="'detail' is a required property"):
        assert_matches_openapi(_response(422, body), "DELETE", "/v1/buckets/{bucket_identifier}")


# --- the limits the code enforces are the document's ----------------------------------------------------------------
def test_the_documents_limits_are_the_codes():
    from eraser.operations.buckets import IDEMPOTENCY_KEY_PATTERN, MAX_IDEMPOTENCY_KEY_LENGTH
    from eraser.operations.objects import MAX_OBJECT_KEYS, MAX_PATHS
    from eraser.storage.keys import DELETE_OBJECTS_MAX_KEYS, MAX_KEY_BYTES
    from eraser.trash import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_RESTORE_KEYS

    document = openapi_document()
    schemas = document["components"]["schemas"]
    idempotency_key = document["components"]["parameters"]["IdempotencyKey"]["schema"]
    page_size = next(parameter["schema"] for parameter in document["paths"]["/v1/trash"]["get"]["parameters"]
                     if parameter["name"] == "page_size")
    bulk = schemas["DeleteObjectsRequest"]["properties"]
    assert (bulk["object_keys"]["maxItems"], bulk["path"]["maxItems"]) == (MAX_OBJECT_KEYS, MAX_PATHS)
    assert schemas["ObjectKey"]["x-maxUtf8Bytes"] == schemas["FolderPath"]["x-maxUtf8Bytes"] == MAX_KEY_BYTES
    assert schemas["TrashRestoreRequest"]["properties"]["keys"]["maxItems"] == MAX_RESTORE_KEYS
    assert schemas["S3Delete"]["properties"]["Object"]["maxItems"] == DELETE_OBJECTS_MAX_KEYS
    assert (page_size["maximum"], page_size["default"]) == (MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)
    assert idempotency_key["maxLength"] == MAX_IDEMPOTENCY_KEY_LENGTH
    for key in ("k", "op-1", "a b", "~" * MAX_IDEMPOTENCY_KEY_LENGTH):
        assert re.search(python_pattern(idempotency_key["pattern"]), key) and IDEMPOTENCY_KEY_PATTERN.fullmatch(key)
    for key in ("", " k", "k ", "k\n", "ключ", "~" * (MAX_IDEMPOTENCY_KEY_LENGTH + 1)):
        in_document = re.search(python_pattern(idempotency_key["pattern"]), key) and len(key) <= idempotency_key["maxLength"]
        assert not in_document and not IDEMPOTENCY_KEY_PATTERN.fullmatch(key), repr(key)


def test_the_documents_outcomes_are_the_codes():
    from eraser.storage.outcomes import Outcome, zero_counts

    schemas = openapi_document()["components"]["schemas"]
    assert schemas["Outcome"]["enum"] == [outcome.value for outcome in Outcome]
    outcome_ref = {"$ref": "#/components/schemas/Outcome"}
    assert schemas["DeleteObjectsError"]["properties"]["outcome"] == outcome_ref
    assert "outcome" in schemas["DeleteObjectsError"]["required"]
    assert schemas["TaskKeyFailure"]["properties"]["outcome"] == outcome_ref
    assert schemas["TaskCounts"]["properties"]["outcomes"]["propertyNames"] == outcome_ref
    counts = schema_validator("/components/schemas/TaskCounts")
    assert counts.is_valid({"outcomes": zero_counts()})
    assert not counts.is_valid({"outcomes": {"gone": 1}})
