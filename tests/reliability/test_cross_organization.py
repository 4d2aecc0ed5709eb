"""Organization B's all-scopes credentials against organization A's buckets, objects, trash and tasks, on every route
of template.yaml: no request succeeds, A's backend is unchanged, and each answer is the one B gets for a resource
that does not exist (another organization's resource is indistinguishable from a missing one). The per-route unit
tests (tests/unit, "another organization") check the same in-process; this runs the whole stack over HTTP."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.reliability.backend_state import changes, poll_task, snapshot
from tests.reliability.conftest import Figures, ReliableStack, Tenant, is_refusal, is_server_error
from tests.reliability.routes import (
    PUBLIC_ROUTE_IDS,
    TRASHED,
    VICTIM,
    Route,
    World,
    known_route_ids,
    request_for,
    template_routes,
)

ROUTES = [route for route in template_routes() if route.id in known_route_ids() - PUBLIC_ROUTE_IDS]
MISSING = World("org_0000000000000000", "no-such-bucket", "no-such-bin", "task_0000000000000000")


@pytest.fixture(scope="module")
def organizations(reliable_stack: ReliableStack) -> tuple[Tenant, World, Tenant]:
    stack = reliable_stack.stack
    a = reliable_stack.tenant("cross-a", {"plain": "plain", "bin": "trash", "spare": "plain"})
    b = reliable_stack.tenant("cross-b", {"own": "plain"})
    stack.put(VICTIM, b"victim", a.buckets["plain"])
    stack.put(TRASHED, b"trashed", a.buckets["bin"])
    stack.client("s3").delete_object(Bucket=a.buckets["bin"], Key=TRASHED)
    started = stack.request("DELETE", "/storage/obj/spare/purge", headers=a.auth)
    assert started.status == 200, started.text
    task = poll_task(stack, started.json()["task"]["id"], a.auth)
    return a, World(a.organization_id, "plain", "bin", task["task_id"]), b


@pytest.mark.parametrize("route", ROUTES, ids=[route.id for route in ROUTES])
def test_another_organization_gets_nothing_on_any_route(reliable_stack: ReliableStack, figures: Figures,
                                                        organizations: tuple[Tenant, World, Tenant],
                                                        route: Route) -> None:
    stack = reliable_stack.stack
    a, world, b = organizations
    before = snapshot(stack, a.buckets.values())
    request = request_for(route, world)
    # The organization id in purge_all's body is A's; B's own credentials everywhere.
    response = stack.request(request.method, request.path(route), headers={**request.headers, **b.auth},
                             body=request.body)
    missing = request_for(route, MISSING)
    reference = stack.request(missing.method, missing.path(route), headers={**missing.headers, **b.auth},
                              body=missing.body)

    changed = changes(before, snapshot(stack, a.buckets.values()))
    figures.add("cross_organization", requests=1, successes=int(response.status < 300),
                server_errors=int(is_server_error(response)), wrongful_deletions=int(bool(changed)))
    # A refusal: a 4xx, or S3's 501 NotImplemented on an S3 operation Eraser does not implement.
    assert is_refusal(response), (response.status, response.text[:300])
    assert changed == [], changed
    assert response.status == reference.status, (response.text[:300], reference.text[:300])


def test_the_matrix_covers_every_route() -> None:
    assert {route.id for route in ROUTES} == {route.id for route in template_routes()} - PUBLIC_ROUTE_IDS


def test_a_request_of_the_matrix_succeeds_with_a_s_own_credentials(reliable_stack: ReliableStack,
                                                                   organizations: tuple[Tenant, World, Tenant]) -> None:
    """The matrix can fail: the same request with A's key is accepted (here the one that reads A's task)."""
    a, world, _ = organizations
    route = next(route for route in ROUTES if route.id == "GET /v1/tasks/{task_id}")
    request = replace(request_for(route, world), headers=a.auth)
    assert reliable_stack.stack.request(request.method, request.path(route), headers=request.headers).status == 200
