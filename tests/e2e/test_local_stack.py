"""``make run`` as a newcomer uses it: the printed curl line works, every route of the template is served the way
API Gateway serves it, and queues deliver to their functions."""

from __future__ import annotations

import shlex
import time
from urllib.parse import quote, urlsplit

from local.template import load_template, resources_of_type
from tests.e2e.conftest import LocalStack


def _curl(line: str) -> tuple[str, dict[str, str], str]:
    """Method, headers and URL of the ``curl -i -X METHOD -H 'Name: value' URL`` line the stack prints."""
    words = shlex.split(line)
    assert words[0] == "curl"
    method, headers, url = "GET", {}, ""
    iterator = iter(words[1:])
    for word in iterator:
        if word == "-X":
            method = next(iterator)
        elif word == "-H":
            name, _, value = next(iterator).partition(":")
            headers[name.strip()] = value.strip()
        elif not word.startswith("-"):
            url = word
    return method, headers, url


def test_the_printed_curl_line_deletes_the_demo_object(local_stack: LocalStack) -> None:
    method, headers, url = _curl(local_stack.state["curl"])
    assert local_stack.exists("hello.txt")

    response = local_stack.request(method, urlsplit(url).path, headers=headers)

    assert response.status == 204, response.text
    assert not local_stack.exists("hello.txt")
    # Only that object: the rest of the demo bucket is intact.
    assert local_stack.exists("reports/2024/q1.csv") and local_stack.exists("images/cat.jpg")


def test_greedy_key_parameter_takes_slashes_and_utf8(local_stack: LocalStack) -> None:
    key = "e2e/ünïcödé dir/file (1).txt"
    local_stack.put(key)

    response = local_stack.request("DELETE", f"/s3/{local_stack.bucket}/{quote(key)}", headers=local_stack.auth)

    assert response.status == 204, response.text
    assert not local_stack.exists(key)


def test_the_function_s_error_answers_through_the_api(local_stack: LocalStack) -> None:
    local_stack.put("e2e/kept.txt")

    response = local_stack.request("DELETE", f"/s3/{local_stack.bucket}/e2e/kept.txt")

    assert response.status == 403
    assert "<Code>AccessDenied</Code>" in response.text
    assert local_stack.exists("e2e/kept.txt")


def test_an_unknown_route_answers_as_api_gateway_does(local_stack: LocalStack) -> None:
    response = local_stack.request("GET", "/no/such/route", headers=local_stack.auth)

    assert response.status == 403
    assert response.json() == {"message": "Missing Authentication Token"}


def test_every_route_of_the_template_is_served(local_stack: LocalStack) -> None:
    template = load_template()
    routes = [(event["Properties"]["Method"].upper(), event["Properties"]["Path"])
              for function in resources_of_type(template, "AWS::Serverless::Function").values()
              for event in (function["Properties"].get("Events") or {}).values() if event["Type"] == "Api"]
    assert routes
    for method, path in routes:
        concrete = path.replace("{key+}", "some/key").replace("{", "x-").replace("}", "")
        response = local_stack.request(method, concrete)
        # A mounted route reaches its function (which answers, or fails with 502 while it is not written yet);
        # only an unmounted one gets API Gateway's "Missing Authentication Token".
        assert b"Missing Authentication Token" not in response.body, (method, path)


def test_responses_carry_a_fresh_request_id_per_request(local_stack: LocalStack) -> None:
    local_stack.put("e2e/a.txt")
    local_stack.put("e2e/b.txt")
    first = local_stack.request("DELETE", f"/s3/{local_stack.bucket}/e2e/a.txt", headers=local_stack.auth)
    second = local_stack.request("DELETE", f"/s3/{local_stack.bucket}/e2e/b.txt", headers=local_stack.auth)
    assert first.header("x-amz-request-id") and second.header("x-amz-request-id")
    assert first.header("x-amz-request-id") != second.header("x-amz-request-id")


def test_the_state_file_names_the_stack_s_tables_and_queues(local_stack: LocalStack) -> None:
    tables = set(local_stack.client("dynamodb").list_tables()["TableNames"])
    assert set(local_stack.tables.values()) <= tables
    queue_urls = set(local_stack.client("sqs").list_queues()["QueueUrls"])
    assert set(local_stack.queues.values()) <= queue_urls


def test_a_queue_delivers_its_messages_to_the_function(local_stack: LocalStack) -> None:
    sqs = local_stack.client("sqs")
    queue_url = local_stack.queues["ListingDeadLetterQueue"]
    sqs.send_message(QueueUrl=queue_url, MessageBody='{"e2e": "probe"}')

    # The event source received it: it is no longer visible (deleted if the function succeeded, in flight until
    # the visibility timeout if it failed).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
        if attributes["Attributes"]["ApproximateNumberOfMessages"] == "0":
            break
        time.sleep(0.2)
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_admin_command_works_against_the_stack(local_stack: LocalStack) -> None:
    organization = local_stack.admin("create-org", "--sub-domain", "e2e-admin", "--account-id", "123456789012")
    bucket = local_stack.admin("register-bucket", "--org", "e2e-admin", "--name", "files", "--create")
    key = local_stack.admin("issue-key", "--org", organization["id"], "--scopes", "objects:delete")
    local_stack.put("a.txt", s3_bucket=bucket["s3_bucket"])

    response = local_stack.request("DELETE", "/s3/files/a.txt", headers={"X-Api-Key": key["api_key"]})

    assert response.status == 204, response.text
    assert not local_stack.exists("a.txt", s3_bucket=bucket["s3_bucket"])
