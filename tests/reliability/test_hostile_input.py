"""Hostile input against every route of template.yaml, over HTTP on the local stack: malformed and deeply nested
JSON, 5,000-digit integers, NUL and unpaired surrogates, oversized lists, wrong content types, missing and empty
fields, repeated query parameters, S3 sub-resources and bogus version ids on the DeleteObject route, bad path
parameters and wrong credentials. The backend (every version of every bucket, and the tasks table's size) is
compared before and after each request: no request answers a 5xx, and none that is refused changes anything.

Each case says what it expects: ``REFUSED`` (a 4xx, or S3's 501 NotImplemented, and nothing changed), or
``HARMLESS`` (whatever the answer short of a 5xx, nothing changed: it names nothing that exists, or is malformed in
a way whose right answer is not settled). Requests the local HTTP emulation cannot carry (a body that is not UTF-8)
are sent straight to the handlers in test_hostile_input_in_process.py."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from typing import Any

import pytest

from tests.reliability.backend_state import changes, poll_task, snapshot
from tests.reliability.conftest import Figures, ReliableStack, is_refusal, is_server_error
from tests.reliability.routes import (
    TRASHED,
    VICTIM,
    Request,
    Route,
    World,
    known_route_ids,
    request_for,
    template_routes,
)

REFUSED, HARMLESS = "refused", "harmless"
DEEP = 1_000
HUGE_INTEGER = "9" * 5_000


@dataclass(frozen=True)
class Case:
    name: str
    request: Request
    expect: str
    # None: A's all-scopes key; otherwise exactly these credential headers.
    credentials: dict[str, str] | None = None


def deep(levels: int, inner: str = json.dumps(VICTIM)) -> str:
    return "[" * levels + inner + "]" * levels


def with_body(base: Request, body: bytes | str, content_type: str = "application/json") -> Request:
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return replace(base, body=data, headers={**base.headers, "Content-Type": content_type})


def credential_cases(base: Request) -> list[Case]:
    return [
        Case("no credentials", base, REFUSED, {}),
        Case("unknown api key", base, REFUSED, {"X-Api-Key": "erk_0123456789abcdef_" + "x" * 32}),
        Case("malformed api key", base, REFUSED, {"X-Api-Key": "erk_"}),
        Case("api key not UTF-8", base, REFUSED, {"X-Api-Key": "erk_\xfc\xfe"}),
        Case("garbage bearer", base, REFUSED, {"Authorization": "Bearer not.a.jwt"}),
        Case("unsigned jwt", base, REFUSED, {"Authorization": "Bearer " + ".".join(
            base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
            for part in ({"alg": "none"}, {"sub": "x", "org": "y", "scope": "*"})) + "."}),
    ]


PATH_VALUES = {
    "bucket": ["%00", "%ff%fe", "no-such-bucket", "b" * 3_000, "%C3%BCn%C3%AF", "plain%2F..%2Fbin", "%2E%2E"],
    "task_id": ["abc", "..%2F..%2Fx", HUGE_INTEGER, "%00", "%ff%fe", "%C3%BC", "t" * 3_000],
    "key": [f"{VICTIM}%00", "%ff%fe", "k" * 2_000],
}
PATH_VALUES["bucket_identifier"] = PATH_VALUES["bucket"]


def path_cases(route: Route, base: Request) -> list[Case]:
    cases = []
    for name in route.parameters:
        for value in PATH_VALUES[name]:
            parameters = {key: (quote_plain(item) if key != name else value) for key, item in
                          base.path_parameters.items()}
            cases.append(Case(f"{name}={value[:24]}", replace(base, path_parameters=parameters, raw=True), HARMLESS))
    return cases


def quote_plain(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="/")


def s3_cases(base: Request) -> list[Case]:
    cases = [Case(f"?{'&'.join(f'{n}={v}' if v is not None else n for n, v in query)}",
                  replace(base, query=query), REFUSED)
             for query in ([("tagging", None)], [("uploadId", "x")], [("acl", None)], [("versionId", "..%2F..%2Fx")], [("versionId", "null"), ("versionId", "null")],
                           [("versionId", "")], [("retention", None)], [("no-such-parameter", "1")])]
    # A well-formed version id that names no version of the key: 204 with nothing deleted, as S3 answers it
    # (docs/s3-delete-object.md).
    cases.append(Case("?versionId=abc", replace(base, query=[("versionId", "abc")]), HARMLESS))
    for header, value in (("x-amz-if-match-size", HUGE_INTEGER), ("x-amz-if-match-size", "-1"),
                          ("x-amz-if-match-size", "abc"), ("If-Match", '"0123456789abcdef0123456789abcdef"'),
                          ("x-amz-expected-bucket-owner", "999999999999"),
                          ("x-amz-if-match-last-modified-time", "not a date")):
        cases.append(Case(f"{header}: {value[:16]}", replace(base, headers={**base.headers, header: value}), REFUSED))
    return cases


def json_body_cases(base: Request, valid: dict[str, Any], list_field: str, list_limit: int) -> list[Case]:
    """Malformed versions of ``valid`` (which acts on A's resources if accepted)."""
    refused_bodies: dict[str, bytes | str] = {
        "empty body": b"", "truncated json": b'{"' + list_field.encode() + b'": [', "null": "null", "a list": "[]",
        "a string": '"x"', "empty object": "{}", "nested 1,000 deep": json.dumps(valid)[:-1] + ', "x": ' + deep(DEEP) + "}",
        "list nested 1,000 deep": json.dumps({**valid, list_field: "LIST"}).replace('"LIST"', deep(DEEP)),
        "5,000-digit integer": json.dumps(valid)[:-1] + f', "n": {HUGE_INTEGER}' + "}",
        "5,000-digit integer in the list": json.dumps({**valid, list_field: "LIST"}).replace(
            '"LIST"', f"[{HUGE_INTEGER}]"),
        "list as a string": json.dumps({**valid, list_field: valid[list_field][0]}),
        f"{list_limit + 1} entries": json.dumps({**valid, list_field: [*valid[list_field],
                                                                       *(f"pad/{n}" for n in range(list_limit))]}),
    }
    for name in valid:
        refused_bodies[f"without {name}"] = json.dumps({key: value for key, value in valid.items() if key != name})
    cases = [Case(name, with_body(base, body), REFUSED) for name, body in refused_bodies.items()]
    cases += [
        Case("xml body", with_body(base, f"<Delete><Object><Key>{VICTIM}</Key></Object></Delete>", "application/xml"),
             REFUSED),
        Case("form body", with_body(base, f"{list_field}={VICTIM}", "application/x-www-form-urlencoded"), REFUSED),
    ]
    harmless = {
        "NUL in a key": {**valid, list_field: [valid[list_field][0] + "\x00"]},
        "control and XML-illegal characters": {**valid, list_field: ["\x01\x0b\ufffe\uffff"]},
        "unicode keys": {**valid, list_field: ["ünïcödé/☃ 📦.txt", "\u202e" + "txt.exe"]},
        "an empty key": {**valid, list_field: [""]},
    }
    cases += [Case(name, with_body(base, json.dumps(body)), HARMLESS) for name, body in harmless.items()]
    # Ambiguous: parsers that keep the first value would act on A's resource; the last names nothing.
    cases.append(Case("duplicate field", with_body(base, json.dumps(valid)[:-1] + f', "{list_field}": ["nothing-here"]'
                                                   + "}"), HARMLESS))
    cases.append(Case("unpaired surrogate", with_body(base, json.dumps({**valid, list_field: ["\ud800x"]})), HARMLESS))
    return cases


def route_cases(route: Route, world: World) -> list[Case]:
    base = request_for(route, world)
    cases = credential_cases(base) + path_cases(route, base)
    if route.id == "DELETE /s3/{bucket}/{key+}":
        cases += s3_cases(base)
    elif route.id == "DELETE /v1/storage/objects":
        valid = {"object_keys": [VICTIM], "path": []}
        cases += json_body_cases(base, valid, "object_keys", 1_000)
        for query in ([], [("bucket", "")], [("bucket", world.plain_bucket), ("bucket", world.plain_bucket)],
                      [("bucket", "no-such-bucket")], [("bucket", HUGE_INTEGER)]):
            cases.append(Case(f"query {query}"[:60], replace(base, query=query), REFUSED))
        for path in ("", "/", ".", "..", "/data", "../x"):
            cases.append(Case(f"path {path!r}", with_body(base, json.dumps({"object_keys": [VICTIM], "path": [path]})),
                              REFUSED))
        cases.append(Case("101 paths", with_body(base, json.dumps({"object_keys": [VICTIM],
                                                                   "path": [f"p{n}" for n in range(101)]})), REFUSED))
    elif route.id == "POST /v1/trash/restore":
        cases += json_body_cases(base, {"bucket": world.trash_bucket, "keys": [TRASHED]}, "keys", 100)
    elif route.id == "POST /organizations/organization/trash_objects/purge_all":
        valid = {"organization": {"id": world.organization_id}}
        for name, body in {"empty body": b"", "truncated": b'{"organization": {', "null": "null", "{}": "{}",
                           "organization empty": '{"organization": {}}',
                           "id empty": '{"organization": {"id": ""}}',
                           "id a list": json.dumps({"organization": {"id": [world.organization_id]}}),
                           "nested 1,000 deep": '{"organization": ' + deep(DEEP) + "}",
                           "5,000-digit id": '{"organization": {"id": ' + HUGE_INTEGER + "}}",
                           "5,000-digit extra": json.dumps(valid)[:-1] + f', "n": {HUGE_INTEGER}' + "}",
                           "NUL id": json.dumps({"organization": {"id": world.organization_id + "\x00"}}),
                           "unknown id": json.dumps({"organization": {"id": "org_nope"}})}.items():
            cases.append(Case(name, with_body(base, body), REFUSED))
    elif route.id == "GET /v1/trash":
        token = base64.urlsafe_b64encode(deep(DEEP, "{}").encode()).decode()
        for query in ([], [("bucket", "")], [("bucket", world.trash_bucket), ("bucket", world.trash_bucket)],
                      *([("bucket", world.trash_bucket), ("page_size", size)] for size in
                        ("0", "-1", "abc", HUGE_INTEGER, "1001", "1e3")),
                      *([("bucket", world.trash_bucket), ("page_token", value)] for value in
                        ("x", "a" * 10_000, token, base64.urlsafe_b64encode(b"\xff\xfe{").decode(), "%00"))):
            cases.append(Case(f"query {query}"[:60], replace(base, query=query), HARMLESS))
    elif route.method == "GET" or route.path.endswith("/cancel"):
        cases.append(Case("repeated unknown parameter", replace(base, query=[("x", "1"), ("x", "2")]), HARMLESS))
    else:
        # A purge or bucket deletion is accepted whatever other parameters come with it: name no bucket of A's.
        elsewhere = {name: "no-such-bucket" for name in base.path_parameters}
        cases.append(Case("repeated unknown parameter", replace(base, path_parameters=elsewhere,
                                                                query=[("x", "1"), ("x", "2")]), HARMLESS))
    return cases


# --- the world the requests name ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class HostileWorld:
    world: World
    api_key: str
    plain_s3: str
    trash_s3: str


@pytest.fixture(scope="module")
def hostile_world(reliable_stack: ReliableStack) -> HostileWorld:
    tenant = reliable_stack.tenant("hostile", {"plain": "plain", "bin": "trash", "spare": "plain"})
    started = reliable_stack.stack.request("DELETE", "/storage/obj/spare/purge", headers=tenant.auth)
    assert started.status == 200, started.text
    task = poll_task(reliable_stack.stack, started.json()["task"]["id"], tenant.auth)
    world = HostileWorld(World(tenant.organization_id, "plain", "bin", task["task_id"]), tenant.api_key,
                         tenant.buckets["plain"], tenant.buckets["bin"])
    restore_world(reliable_stack, world)
    return world


def restore_world(reliable_stack: ReliableStack, world: HostileWorld) -> None:
    """VICTIM exists in the plain bucket, TRASHED is in trash (a delete marker on top), whatever a case did."""
    s3 = reliable_stack.stack.client("s3")
    if not reliable_stack.stack.exists(VICTIM, world.plain_s3):
        s3.put_object(Bucket=world.plain_s3, Key=VICTIM, Body=b"victim")
    versions = s3.list_object_versions(Bucket=world.trash_s3, Prefix=TRASHED)
    latest_is_marker = any(marker["IsLatest"] for marker in versions.get("DeleteMarkers", []))
    if not latest_is_marker:
        s3.put_object(Bucket=world.trash_s3, Key=TRASHED, Body=b"trashed")
        s3.delete_object(Bucket=world.trash_s3, Key=TRASHED)


ROUTES = template_routes()
# The world's identifiers only matter to the cases' names through path values, which do not depend on them.
_NAMING_WORLD = World("org", "plain", "bin", "task")
CASES = [(route, case) for route in ROUTES if route.id in known_route_ids() for case in route_cases(route, _NAMING_WORLD)]

# Defects other branches fix; each turns into a failure (XPASS, strict) once the fix is merged, and the marker goes.
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}


def _param(route: Route, case: Case) -> Any:
    reason = KNOWN_DEFECTS.get((route.id, case.name))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(route, case.name, marks=marks, id=f"{route.id} | {case.name}")


def test_every_route_has_a_request() -> None:
    missing = sorted(route.id for route in ROUTES if route.id not in known_route_ids())
    assert ROUTES and not missing, f"add a request for {missing} in tests/reliability/routes.py"


@pytest.mark.parametrize(("route", "case_name"), [_param(route, case) for route, case in CASES])
def test_hostile_request_is_refused_or_harmless_and_never_a_5xx(reliable_stack: ReliableStack,
                                                              hostile_world: HostileWorld, figures: Figures,
                                                              route: Route, case_name: str) -> None:
    case = next(case for case in route_cases(route, hostile_world.world) if case.name == case_name)
    stack = reliable_stack.stack
    restore_world(reliable_stack, hostile_world)
    credentials = {"X-Api-Key": hostile_world.api_key} if case.credentials is None else case.credentials
    before = snapshot(stack)

    response = stack.request(case.request.method, case.request.path(route),
                             headers={**case.request.headers, **credentials}, body=case.request.body)

    changed = changes(before, snapshot(stack))
    refused = is_refusal(response)
    figures.add("hostile_input", requests=1, server_errors=int(is_server_error(response)), refusals=int(refused),
                changes_after_refusal=int(refused and bool(changed)),
                # Every case is one that must be refused or must change nothing: any change is wrongful.
                wrongful_deletions=int(bool(changed)), xfail_known_defect=int((route.id, case.name) in KNOWN_DEFECTS))
    assert not is_server_error(response), (response.status, response.body[:300])
    if case.expect == REFUSED:
        assert refused, (response.status, response.body[:300])
    if refused or case.expect == HARMLESS:
        assert changed == [], (response.status, response.body[:300], changed)
