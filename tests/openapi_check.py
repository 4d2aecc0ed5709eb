"""Checks a function's response against ``openapi/eraser.yaml``: the status code must be documented for the
operation, and a JSON body must validate against the documented schema (OpenAPI 3.1 dialect, ``$ref`` resolved
within the document).

    body = assert_matches_openapi(response, "DELETE", "/v1/storage/objects")
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT_PATH = Path(__file__).resolve().parent.parent / "openapi" / "eraser.yaml"
DOCUMENT_URI = "urn:eraser:openapi"
JSON_MEDIA_TYPE = "application/json"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@functools.cache
def openapi_document() -> dict[str, Any]:
    with open(DOCUMENT_PATH, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@functools.cache
def _registry() -> Registry:
    resource = Resource.from_contents(openapi_document(), default_specification=DRAFT202012)
    return Registry().with_resource(DOCUMENT_URI, resource)


def json_pointer(*parts: str) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def python_pattern(pattern: str) -> str:
    """A document ``pattern`` for Python's ``re``: ECMA-262's ``$`` (JSON Schema's dialect) is the end of the string,
    Python's also matches before a final newline."""
    return pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern


def resolve_at(node: Any, pointer: str) -> tuple[Any, str]:
    """``node`` (found at ``pointer``), or what its local ``$ref`` chain points at, with that target's pointer."""
    for _ in range(20):
        if not (isinstance(node, dict) and "$ref" in node):
            return node, pointer
        reference = node["$ref"]
        assert reference.startswith("#/"), f"only local references are used in the document: {reference}"
        pointer = reference[1:]
        node = openapi_document()
        for part in pointer[1:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    raise AssertionError(f"reference cycle at {pointer}")


def resolve(node: Any) -> Any:
    """``node``, or what its local ``$ref`` points at (responses, parameters and headers may be references)."""
    return resolve_at(node, "")[0]


def schema_validator(pointer: str) -> Any:
    """A validator for the schema at ``pointer`` inside the document, whose nested ``#/...`` references resolve
    against the document."""
    return OAS31Validator({"$ref": f"{DOCUMENT_URI}#{pointer}"}, registry=_registry(),
                          format_checker=oas31_format_checker)


def _header(response: dict[str, Any], name: str) -> str | None:
    for header, value in (response.get("headers") or {}).items():
        if header.lower() == name.lower():
            return str(value)
    for header, values in (response.get("multiValueHeaders") or {}).items():
        if header.lower() == name.lower() and values:
            return str(values[-1])
    return None


def _documented_status(responses: dict[str, Any], status: str) -> str | None:
    for candidate in (status, f"{status[0]}XX", "default"):
        if candidate in responses:
            return candidate
    return None


def assert_matches_openapi(response: dict[str, Any], method: str, path_template: str) -> Any:
    """Assert that a Lambda proxy ``response`` of ``method path_template`` is what the document promises; returns
    the parsed JSON body (None when there is none)."""
    paths = openapi_document()["paths"]
    assert path_template in paths, f"{path_template} is not in {DOCUMENT_PATH.name}"
    operation = paths[path_template].get(method.lower())
    assert operation is not None, f"{method.upper()} {path_template} is not in {DOCUMENT_PATH.name}"
    status = str(response["statusCode"])
    documented = _documented_status(operation["responses"], status)
    assert documented is not None, (
        f"{method.upper()} {path_template} answered {status}, which the document does not list "
        f"(it lists {sorted(operation['responses'])})")
    spec, spec_pointer = resolve_at(operation["responses"][documented],
                                    json_pointer("paths", path_template, method.lower(), "responses", documented))
    raw_body = response.get("body")
    content = spec.get("content") or {}
    if not content:
        assert not raw_body, f"{method.upper()} {path_template} {status} has no documented body, got {raw_body!r}"
        return None
    assert JSON_MEDIA_TYPE in content, f"only JSON responses are checked here, the document lists {sorted(content)}"
    media_type = (_header(response, "Content-Type") or "").split(";")[0].strip().lower()
    assert media_type == JSON_MEDIA_TYPE, f"{method.upper()} {path_template} {status}: Content-Type {media_type!r}"
    for name, header in (spec.get("headers") or {}).items():
        if resolve(header).get("required"):
            assert _header(response, name) is not None, f"{status} must carry the {name} header"
    assert raw_body, f"{method.upper()} {path_template} {status} must have a JSON body"
    body = json.loads(raw_body)
    validator = schema_validator(spec_pointer + json_pointer("content", JSON_MEDIA_TYPE, "schema"))
    problems = sorted(validator.iter_errors(body), key=lambda error: list(error.absolute_path))
    assert not problems, (
        f"{method.upper()} {path_template} {status} does not match the document:\n"
        + "\n".join(f"- at {'/'.join(str(part) for part in problem.absolute_path) or '(root)'}: {problem.message}"
                    for problem in problems)
        + f"\nbody: {json.dumps(body, ensure_ascii=False)[:2000]}")
    return body
