"""Every API route of template.yaml, and for each a request that would act on organization A's resources if it were
accepted. The hostile battery mutates these requests; the cross-organization matrix sends them as they are with
another organization's credentials. A route added to the template without a request here fails both suites until
one is added (``test_every_route_has_a_request``)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from local.template import load_template, resources_of_type


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as in the template: /s3/{bucket}/{key+}
    function: str  # logical id
    code_dir: str  # functions/<dir>

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"{(\w+)\+?}", self.path)


def template_routes() -> list[Route]:
    routes = []
    for name, function in resources_of_type(load_template(), "AWS::Serverless::Function").items():
        for event in (function["Properties"].get("Events") or {}).values():
            if event["Type"] == "Api":
                routes.append(Route(event["Properties"]["Method"].upper(), event["Properties"]["Path"], name,
                                    function["Properties"]["CodeUri"].strip("/").rsplit("/", 1)[-1]))
    return sorted(routes, key=lambda route: route.id)


@dataclass(frozen=True)
class World:
    """Organization A's resources the requests name."""

    organization_id: str
    plain_bucket: str  # Eraser name; holds VICTIM
    trash_bucket: str  # Eraser name; trash-enabled, TRASHED has a delete marker on top
    task_id: str  # a finished task of A


VICTIM = "victim.txt"
# The docs: served to anyone, naming no organization's resource. The cross-organization matrix has nothing to ask
# of them; the hostile battery still sends them its input (and any credentials: they must change nothing).
PUBLIC_ROUTE_IDS = {"GET /docs", "GET /docs/{asset}", "GET /openapi.yaml"}
TRASHED = "trashed.txt"


@dataclass(frozen=True)
class Request:
    method: str
    path_parameters: dict[str, str]
    query: list[tuple[str, str | None]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    # Raw path parameter values, sent without percent-encoding (hostile cases encode them themselves).
    raw: bool = False

    def path(self, route: Route) -> str:
        path = route.path
        for name, value in self.path_parameters.items():
            encoded = value if self.raw else quote(value, safe="/" if f"{{{name}+}}" in path else "")
            path = path.replace(f"{{{name}+}}", encoded).replace(f"{{{name}}}", encoded)
        if self.query:
            path += "?" + "&".join(f"{name}={value}" if value is not None else name for name, value in self.query)
        return path

    def with_json(self, document: Any) -> Request:
        return replace(self, body=json.dumps(document).encode(), headers={**self.headers,
                                                                          "Content-Type": "application/json"})


# DeleteObjects of VICTIM, with the Content-MD5 S3 requires.
VICTIM_DELETE = f"<Delete><Object><Key>{VICTIM}</Key></Object></Delete>".encode()


def content_md5(body: bytes) -> dict[str, str]:
    return {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}  # noqa: S324 - S3's integrity


def json_body(document: Any) -> bytes:
    return json.dumps(document).encode()


def request_for(route: Route, world: World) -> Request:
    """The request of ``route`` that acts on A's resources (deletes VICTIM, restores TRASHED, starts a task...)."""
    json_headers = {"Content-Type": "application/json"}
    requests = {
        "DELETE /s3/{bucket}/{key+}": Request("DELETE", {"bucket": world.plain_bucket, "key": VICTIM}),
        "POST /s3/{bucket}": Request("POST", {"bucket": world.plain_bucket}, [("delete", None)],
                                     {"Content-Type": "application/xml", **content_md5(VICTIM_DELETE)},
                                     VICTIM_DELETE),
        "GET /s3/{bucket}": Request("GET", {"bucket": world.plain_bucket}, [("list-type", "2")]),
        "HEAD /s3/{bucket}": Request("HEAD", {"bucket": world.plain_bucket}),
        "HEAD /s3/{bucket}/{key+}": Request("HEAD", {"bucket": world.plain_bucket, "key": VICTIM}),
        "DELETE /v1/storage/objects": Request("DELETE", {}, [("bucket", world.plain_bucket)], json_headers,
                                              json_body({"object_keys": [VICTIM], "path": []})),
        "DELETE /storage/obj/{bucket}/purge": Request("DELETE", {"bucket": world.plain_bucket}),
        "DELETE /v1/buckets/{bucket_identifier}": Request("DELETE", {"bucket_identifier": world.plain_bucket}),
        "GET /v1/tasks/{task_id}": Request("GET", {"task_id": world.task_id}),
        "POST /v1/tasks/{task_id}/cancel": Request("POST", {"task_id": world.task_id}),
        "GET /tasks/{task_id}": Request("GET", {"task_id": world.task_id}),
        "GET /v1/tasks/{task_id}/receipt": Request("GET", {"task_id": world.task_id}),
        "GET /v1/trash": Request("GET", {}, [("bucket", world.trash_bucket)]),
        "POST /v1/trash/restore": Request("POST", {}, [], json_headers,
                                          json_body({"bucket": world.trash_bucket, "keys": [TRASHED]})),
        "POST /organizations/organization/trash_objects/purge_all": Request(
            "POST", {}, [], json_headers, json_body({"organization": {"id": world.organization_id}})),
        "GET /docs": Request("GET", {}),
        "GET /docs/{asset}": Request("GET", {"asset": "docs.js"}),
        "GET /openapi.yaml": Request("GET", {}),
    }
    if route.function == "S3NotImplementedFunction":
        # Each would overwrite, tag or read VICTIM (or A's bucket) if it were accepted: 501 and nothing changed.
        parameters = {name: value for name, value in (("bucket", world.plain_bucket), ("key", VICTIM))
                      if name in route.parameters}
        return Request(route.method, parameters, [], {"Content-Type": "text/plain"},
                       b"overwritten" if route.method in ("PUT", "POST", "PATCH") else None)
    return requests[route.id]


def known_route_ids() -> set[str]:
    world = World("org", "b", "t", "task")
    known = set()
    for route in template_routes():
        try:
            request_for(route, world)
        except KeyError:
            continue
        known.add(route.id)
    return known
