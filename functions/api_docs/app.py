"""GET /docs, GET /docs/{asset} and GET /openapi.yaml: the API's own browsable docs, served without credentials.

The page is Swagger UI (vendored in assets/, see assets/VENDORED.txt) on openapi/eraser.yaml, both shipped in this
function's package, so a deployed stage needs nothing from outside to show its docs. Nothing here reads a tenant or
a credential: it serves files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ASSETS = HERE / "assets"
DOCUMENT = HERE / "openapi.yaml"
# Only these files are served: the asset route never reads a path the request names.
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
}
# Swagger UI sets inline styles; every script, stylesheet and request stays on this origin (no CDN, and "try it"
# reaches this API only).
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
CACHE_SECONDS = 300


def _answer(status: int, content_type: str, body: str, **headers: str) -> dict[str, Any]:
    return {"statusCode": status, "body": body, "isBase64Encoded": False,
            "headers": {"Content-Type": content_type, "X-Content-Type-Options": "nosniff",
                        "Cache-Control": f"public, max-age={CACHE_SECONDS}", **headers}}


def _not_found(asset: str) -> dict[str, Any]:
    return {"statusCode": 404, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"message": f"no such docs asset: {asset[:100]}"})}


def lambda_handler(event: dict, context: Any) -> dict:
    resource = event.get("resource")
    if resource == "/openapi.yaml":
        return _answer(200, "application/yaml; charset=utf-8", DOCUMENT.read_text(encoding="utf-8"))
    if resource == "/docs/{asset}":
        asset = str((event.get("pathParameters") or {}).get("asset") or "")
        if asset not in ASSET_TYPES:
            return _not_found(asset)
        return _answer(200, ASSET_TYPES[asset], (ASSETS / asset).read_text(encoding="utf-8"))
    return _answer(200, "text/html; charset=utf-8", (ASSETS / "index.html").read_text(encoding="utf-8"),
                   **{"Content-Security-Policy": PAGE_POLICY, "Referrer-Policy": "no-referrer"})
