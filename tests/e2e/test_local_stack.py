"""``make run`` as a newcomer uses it: the printed curl line works, every route of the template is served the way
API Gateway serves it, and queues deliver to their functions."""

from __future__ import annotations

import base64
import json
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from local.template import load_template, resources_of_type
from tests.e2e.conftest import ROOT, SAM_PYTHON, LocalStack


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



def test_a_purge_runs_through_the_queues_to_completion(local_stack: LocalStack) -> None:
    """API function -> listing queue -> ListingFunction -> deletion queue -> BatchDeleteFunction, all on the
    stack's pollers: more keys than one DeleteObjects call takes, in a versioned bucket."""
    organization = local_stack.admin("create-org", "--sub-domain", "e2e-purge", "--account-id", "123456789012")
    key = local_stack.admin("issue-key", "--org", organization["id"])["api_key"]
    bucket = local_stack.admin("register-bucket", "--org", organization["id"], "--name", "big", "--create",
                               "--versioned")["s3_bucket"]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda number: local_stack.put(f"data/{number:05d}.bin", s3_bucket=bucket), range(1200)))
    local_stack.client("s3").delete_object(Bucket=bucket, Key="data/00000.bin")  # plus a delete marker

    started = local_stack.request("DELETE", "/storage/obj/big/purge", headers={"X-Api-Key": key})
    assert started.status == 200, started.text
    task_id = started.json()["task"]["id"]

    deadline = time.monotonic() + 180
    while True:
        polled = local_stack.request("GET", f"/v1/tasks/{task_id}", headers={"X-Api-Key": key})
        assert polled.status == 200, polled.text
        if polled.json()["status"] in ("COMPLETED", "FAILED", "CANCELED"):
            break
        assert time.monotonic() < deadline, polled.text
        time.sleep(0.5)
    assert polled.json()["status"] == "COMPLETED", polled.text
    versions = local_stack.client("s3").list_object_versions(Bucket=bucket)
    assert versions.get("Versions", []) == [] and versions.get("DeleteMarkers", []) == []


def test_the_backend_redrives_to_the_dead_letter_queue_after_max_receive_count(local_stack: LocalStack) -> None:
    """What failed batches rely on: the moto server moves a message to the DLQ once received maxReceiveCount times."""
    sqs = local_stack.client("sqs")
    dlq = sqs.create_queue(QueueName="e2e-redrive-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName="e2e-redrive", Attributes={
        "VisibilityTimeout": "0", "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})})
    sqs.send_message(QueueUrl=queue["QueueUrl"], MessageBody="poison")
    counts = [sqs.receive_message(QueueUrl=queue["QueueUrl"], AttributeNames=["All"])["Messages"][0]["Attributes"]
              ["ApproximateReceiveCount"] for _ in range(3)]
    assert counts == ["1", "2", "3"]
    assert sqs.receive_message(QueueUrl=queue["QueueUrl"]).get("Messages", []) == []
    assert sqs.receive_message(QueueUrl=dlq)["Messages"][0]["Body"] == "poison"


def test_make_invoke_runs_one_function_on_a_fresh_backend_with_the_demo_key(tmp_path: Path) -> None:
    event = json.loads((ROOT / "events" / "api_gateway_proxy_base.json").read_text())
    event.update(httpMethod="DELETE", resource="/s3/{bucket}/{key+}", path="/s3/demo/hello.txt", body=None,
                 pathParameters={"bucket": "demo", "key": "hello.txt"}, queryStringParameters=None,
                 multiValueQueryStringParameters=None, headers={"X-Api-Key": "${DEMO_API_KEY}"},
                 multiValueHeaders={"X-Api-Key": ["${DEMO_API_KEY}"]})
    (tmp_path / "event.json").write_text(json.dumps(event, indent=2))

    completed = subprocess.run([str(SAM_PYTHON), "-m", "local.invoke", "DeleteObjectFunction",  # noqa: S603
                                str(tmp_path / "event.json"), "--state-file", str(tmp_path / "no-stack.json")],
                               cwd=ROOT, capture_output=True, text=True, timeout=300)

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert json.loads(completed.stdout)["statusCode"] == 204
    assert "fresh backend" in completed.stderr

# --- API Gateway faithfulness, on a template of fake functions ---------------------------------------------------
EMULATION_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Handler: app.lambda_handler
    Timeout: 10
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: test
      BinaryMediaTypes: ["image~1png"]
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {root}/echo
      Events:
        Echo: {{Type: Api, Properties: {{RestApiId: !Ref Api, Path: "/echo/{{key+}}", Method: ANY}}}}
  BoomFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {root}/boom
      Events:
        Boom: {{Type: Api, Properties: {{RestApiId: !Ref Api, Path: /boom, Method: GET}}}}
  SlowFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {root}/slow
      Timeout: 1
      Events:
        Slow: {{Type: Api, Properties: {{RestApiId: !Ref Api, Path: /slow, Method: GET}}}}
"""

FUNCTIONS = {
    "echo": '''
import base64, json
def lambda_handler(event, context):
    if event["path"].endswith(".png"):
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "isBase64Encoded": True,
                "body": base64.b64encode(b"\\x89PNG\\x00\\xff").decode()}
    return {"statusCode": 201, "headers": {"Content-Type": "application/json"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": json.dumps(event)}
''',
    "boom": "def lambda_handler(event, context):\n    raise RuntimeError('boom')\n",
    "slow": "import time\ndef lambda_handler(event, context):\n    time.sleep(30)\n",
}

# Runs in the SAM CLI's environment: local.run's API service on the template above, on a real port (werkzeug's
# request handling is part of what is tested), driven from a thread while the service runs in the main thread.
EMULATION_SCRIPT = r"""
import base64, http.client, json, os, socket, sys, threading, time
from pathlib import Path
from typing import Any
from local.backend import free_port
from local.run import api_service
from local.runner import Runner, function_specs
from local.template import Resolver, load_template

template_path, python, requests = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
specs = function_specs(Resolver({}, {}), {"PATH": "/usr/bin:/bin"}, load_template(template_path))
runner = Runner(specs, python=python)
port = free_port()
service = api_service(runner, "test", "127.0.0.1", port, template_path)

def drive():
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    results = {}
    for name, (method, path, headers, *body) in requests.items():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        connection.putrequest(method, path, skip_accept_encoding=True)
        for header, value in headers:
            connection.putheader(header, value)
        connection.endheaders()
        if body:
            connection.send(base64.b64decode(body[0]))
        response = connection.getresponse()
        results[name] = {"status": response.status, "cookies": response.headers.get_all("Set-Cookie") or [],
                         "content_type": response.getheader("Content-Type"),
                         "body": base64.b64encode(response.read()).decode()}
    print(json.dumps(results), flush=True)
    runner.stop()
    os._exit(0)

threading.Thread(target=drive, daemon=True).start()
service.run()
"""


def emulate(tmp_path: Path, requests: dict[str, list[Any]]) -> dict[str, Any]:
    """Each request (method, path, [header, value] pairs, optionally the raw bytes after the headers, base64) sent
    to the emulation of EMULATION_TEMPLATE: status, cookies, content type and body (base64) of each answer."""
    for name, code in FUNCTIONS.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(code)
    template = tmp_path / "template.yaml"
    template.write_text(EMULATION_TEMPLATE.format(root=tmp_path))
    completed = subprocess.run([str(SAM_PYTHON), "-c", EMULATION_SCRIPT, str(template), sys.executable,  # noqa: S603
                                json.dumps(requests)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    results: dict[str, Any] = json.loads(completed.stdout.splitlines()[-1])
    return results


def test_api_gateway_emulation_is_faithful(tmp_path: Path) -> None:
    requests: dict[str, list[Any]] = {
        "echo": ["GET", "/echo/dir/%C3%A9t%C3%A9%20x.txt?x=1&x=2&y=",
                 [["X-Api-Key", "k"], ["x-lower-case", "v"], ["X-Twice", "1"], ["X-Twice", "2"]]],
        "again": ["DELETE", "/echo/a", []],
        "png": ["GET", "/echo/cat.png", [["Accept", "image/png"]]],
        "boom": ["GET", "/boom", []],
        "slow": ["GET", "/slow", []],
        "unknown": ["GET", "/nope", []],
    }
    results = emulate(tmp_path, requests)

    echo = results["echo"]
    assert echo["status"] == 201 and echo["cookies"] == ["a=1", "b=2"]
    event = json.loads(base64.b64decode(echo["body"]))
    assert event["resource"] == "/echo/{key+}"
    assert event["pathParameters"] == {"key": "dir/été x.txt"}
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["headers"]["X-Api-Key"] == "k" and event["multiValueHeaders"]["X-Api-Key"] == ["k"]
    # The client's header names and repeats, as API Gateway passes them (werkzeug alone would title-case and join).
    assert event["headers"]["x-lower-case"] == "v"
    assert event["multiValueHeaders"]["X-Twice"] == ["1", "2"] and event["headers"]["X-Twice"] == "2"
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1" and event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["headers"]["X-Amzn-Trace-Id"].startswith("Root=1-")
    assert event["requestContext"]["path"] == "/test/echo/dir/%C3%A9t%C3%A9%20x.txt"
    assert event["requestContext"]["stage"] == "test" and event["requestContext"]["resourcePath"] == "/echo/{key+}"
    again = json.loads(base64.b64decode(results["again"]["body"]))
    assert again["httpMethod"] == "DELETE"
    assert again["requestContext"]["requestId"] != event["requestContext"]["requestId"]

    assert results["png"]["status"] == 200 and results["png"]["content_type"] == "image/png"
    assert base64.b64decode(results["png"]["body"]) == b"\x89PNG\x00\xff"
    for failure in ("boom", "slow"):
        assert results[failure]["status"] == 502, failure
        assert json.loads(base64.b64decode(results[failure]["body"])) == {"message": "Internal server error"}
    assert results["unknown"]["status"] == 403


def test_the_emulation_hands_any_body_to_the_function_as_api_gateway_does(tmp_path: Path) -> None:
    """A text body that is not UTF-8 reaches the function base64-encoded (SAM alone answers 502 before any function
    runs); a malformed chunked body is a 400 from the gateway (werkzeug raises, SAM alone answers 502)."""
    not_utf8 = b'{"keys": ["\xff\xfe"]}\x00\x80'
    utf8 = '{"keys": ["été"]}'.encode()

    def sent(body: bytes, *headers: list[str]) -> list[Any]:
        return ["POST", "/echo/x", [["Content-Type", "application/json"], *headers],
                base64.b64encode(body).decode()]

    results = emulate(tmp_path, {
        "not utf-8": sent(not_utf8, ["Content-Length", str(len(not_utf8))]),
        "utf-8": sent(utf8, ["Content-Length", str(len(utf8))]),
        "chunked": sent(b"4\r\nab\xffc\r\n0\r\n\r\n", ["Transfer-Encoding", "chunked"]),
        "malformed chunked": sent(b"zz\r\nabc\r\n0\r\n\r\n", ["Transfer-Encoding", "chunked"]),
    })

    event = json.loads(base64.b64decode(results["not utf-8"]["body"]))
    assert results["not utf-8"]["status"] == 201
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == not_utf8
    event = json.loads(base64.b64decode(results["utf-8"]["body"]))
    assert event["isBase64Encoded"] is False and event["body"] == utf8.decode()
    event = json.loads(base64.b64decode(results["chunked"]["body"]))
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"ab\xffc"
    assert results["malformed chunked"]["status"] == 400
    assert json.loads(base64.b64decode(results["malformed chunked"]["body"])) == {"message": "Bad Request"}
