"""The sample events in events/: one for every function, each valid for it. API events target the demo tenant that
`make run` seeds (bucket `demo`, key `${DEMO_API_KEY}`, which `make invoke` fills in), so here they run against a
tenant seeded the same way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eraser.tenancy import BucketConfiguration
from tests.openapi_check import assert_matches_openapi
from tests.support import EVENTS, invoke, load_event, response_json

DEMO_OBJECTS = ("hello.txt", "reports/2024/q1.csv", "reports/2024/q2.csv", "images/cat.jpg")
KEY_PLACEHOLDER = "${DEMO_API_KEY}"
# The docs are served without credentials: their event carries no key.
WITHOUT_CREDENTIALS = {"api_docs"}


def _functions(template: dict) -> dict[str, str]:
    """Function logical id -> its directory under functions/."""
    return {name: Path(resource["Properties"]["CodeUri"]).name
            for name, resource in template["Resources"].items() if resource["Type"] == "AWS::Serverless::Function"}


def _routes(template: dict, logical_id: str) -> set[tuple[str, str]]:
    events = template["Resources"][logical_id]["Properties"].get("Events", {})
    return {(event["Properties"]["Method"].upper(), event["Properties"]["Path"])
            for event in events.values() if event["Type"] == "Api"}


def test_every_function_has_a_sample_event(stack):
    missing = [directory for directory in _functions(stack.template).values()
               if not (EVENTS / f"{directory}.json").exists()]
    assert missing == []


def test_api_events_match_a_route_of_their_function_and_carry_the_demo_key_placeholder(stack):
    for logical_id, directory in _functions(stack.template).items():
        routes = _routes(stack.template, logical_id)
        if not routes:
            continue
        event = load_event(f"{directory}.json")
        assert (event["httpMethod"], event["resource"]) in routes, directory
        if directory not in WITHOUT_CREDENTIALS:
            assert KEY_PLACEHOLDER in json.dumps(event), directory


def test_scheduled_events_are_complete_eventbridge_events(stack):
    for logical_id, directory in _functions(stack.template).items():
        kinds = {event["Type"] for event in stack.template["Resources"][logical_id]["Properties"]["Events"].values()}
        if kinds == {"Schedule"}:
            event = load_event(f"{directory}.json")
            assert event["version"] == "0" and event["detail-type"] == "Scheduled Event", directory


@pytest.mark.parametrize("directory", ["delete_object", "bulk_delete", "purge_bucket", "delete_bucket", "get_task",
                                       "cancel_task", "get_task_katapult", "list_trash", "restore_trash",
                                       "trash_purge_all"])
def test_api_event_runs_against_the_demo_tenant_with_a_documented_answer(tenant, directory):
    # The demo tenant: organization `demo`'s bucket `demo` with the objects `make run` seeds, here with trash on so
    # that the trash events have something to act on. The test tenant is `acme`: purge_all's sub domain points at it.
    demo = tenant.add_bucket("demo", configuration=BucketConfiguration(trash_enabled=True))
    for key in DEMO_OBJECTS:
        tenant.put(key, bucket=demo)
    tenant.s3.delete_object(Bucket=demo.s3_bucket, Key="hello.txt")  # in trash: what the restore event restores
    text = json.dumps(load_event(f"{directory}.json")).replace(KEY_PLACEHOLDER, tenant.api_key)
    event = json.loads(text.replace('\\"sub_domain\\": \\"demo\\"', f'\\"sub_domain\\": \\"{tenant.organization.sub_domain}\\"'))

    response = invoke(directory, event)

    assert response["statusCode"] < 500, response.get("body")
    if directory == "delete_object":
        assert response["statusCode"] == 204
    else:
        assert_matches_openapi(response, event["httpMethod"], event["resource"])
        if directory not in ("get_task", "cancel_task", "get_task_katapult"):  # they name a task that does not exist
            assert response["statusCode"] in (200, 202), response_json(response)
