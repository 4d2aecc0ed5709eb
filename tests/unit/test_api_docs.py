"""GET /docs, its assets and GET /openapi.yaml: served without credentials, from files shipped in the function's own
directory (no CDN), and only the files it names."""

from __future__ import annotations

import copy
import hashlib
import re
from typing import Any

import pytest
import yaml

from tests.support import FUNCTIONS, ROOT, invoke, load_event

DOCS = FUNCTIONS / "api_docs"


def request(resource: str, asset: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(load_event("api_docs.json"))
    path = resource.replace("{asset}", asset or "")
    event.update({"resource": resource, "path": path, "pathParameters": {"asset": asset} if asset is not None else None})
    event["requestContext"].update({"resourcePath": resource, "path": f"/dev{path}"})
    return event


def header(response: dict[str, Any], name: str) -> str | None:
    return next((value for key, value in response["headers"].items() if key.lower() == name.lower()), None)


def test_the_openapi_document_is_the_projects_own_served_as_yaml_without_credentials():
    response = invoke("api_docs", request("/openapi.yaml"))

    assert response["statusCode"] == 200
    assert header(response, "Content-Type") == "application/yaml; charset=utf-8"
    assert response["body"] == (ROOT / "openapi" / "eraser.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(response["body"])["openapi"].startswith("3.1")


def test_the_page_loads_only_its_own_assets():
    response = invoke("api_docs", request("/docs"))

    assert response["statusCode"] == 200
    assert header(response, "Content-Type") == "text/html; charset=utf-8"
    page = response["body"]
    assert re.findall(r'(?:src|href)="([^"]+)"', page) == ["docs/swagger-ui.css", "openapi.yaml",
                                                           "docs/swagger-ui-bundle.js", "docs/docs.js"]
    policy = header(response, "Content-Security-Policy") or ""
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "default-src 'none'" in policy


@pytest.mark.parametrize(("asset", "content_type"), [("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
                                                     ("swagger-ui.css", "text/css; charset=utf-8"),
                                                     ("docs.js", "text/javascript; charset=utf-8")])
def test_each_asset_is_served_with_its_type(asset, content_type):
    response = invoke("api_docs", request("/docs/{asset}", asset))

    assert response["statusCode"] == 200
    assert header(response, "Content-Type") == content_type
    assert response["body"] == (DOCS / "assets" / asset).read_text(encoding="utf-8")


@pytest.mark.parametrize("asset", ["index.html", "../app.py", "..%2Fapp.py", "VENDORED.txt", "", "x" * 5000])
def test_any_other_asset_name_is_404_and_reads_nothing(asset):
    response = invoke("api_docs", request("/docs/{asset}", asset))

    assert response["statusCode"] == 404
    assert len(response["body"]) < 300


def test_the_vendored_swagger_ui_is_the_pinned_release_unchanged():
    listing = (DOCS / "assets" / "VENDORED.txt").read_text(encoding="utf-8")
    sums = re.findall(r"^([0-9a-f]{64})  (\S+)$", listing, flags=re.MULTILINE)
    assert {name for _, name in sums} >= {"swagger-ui-bundle.js", "swagger-ui.css", "SWAGGER-UI-LICENSE"}
    for digest, name in sums:
        assert hashlib.sha256((DOCS / "assets" / name).read_bytes()).hexdigest() == digest, name


def test_the_function_packages_the_document_itself():
    # sam build copies what the link points at into the function's package.
    assert (DOCS / "openapi.yaml").resolve() == (ROOT / "openapi" / "eraser.yaml").resolve()
