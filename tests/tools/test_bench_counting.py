"""The bench's request classification: what the backend was asked, named as the S3/DynamoDB/SQS references do."""

from __future__ import annotations

import io
import json
from collections import Counter

from bench.counting import CountingMiddleware, RequestLedger, classify, difference, s3_operation

SIGV4_S3 = {"authorization": "AWS4-HMAC-SHA256 Credential=testing/20261122/us-east-1/s3/aws4_request, "
                             "SignedHeaders=host, Signature=abc"}


def test_delete_objects_counts_the_keys_in_its_body() -> None:
    body = b"<Delete><Object><Key>a</Key></Object><Object><Key>b</Key><VersionId>1</VersionId></Object></Delete>"
    operation = classify("POST", "/bucket-1", "delete", SIGV4_S3, body)
    assert (operation.service, operation.name, operation.resource, operation.items) == \
        ("s3", "DeleteObjects", "bucket-1", 2)


def test_listings_are_told_apart_by_their_query() -> None:
    assert s3_operation("GET", "/b", "list-type=2&prefix=a").name == "ListObjectsV2"
    assert s3_operation("GET", "/b", "versions&key-marker=x").name == "ListObjectVersions"
    assert s3_operation("GET", "/b", "prefix=a&marker=b").name == "ListObjects"
    assert s3_operation("GET", "/b", "uploads").name == "ListMultipartUploads"


def test_single_key_delete_is_delete_object_with_or_without_version() -> None:
    assert s3_operation("DELETE", "/b/some/key.txt", "").name == "DeleteObject"
    assert s3_operation("DELETE", "/b/some/key.txt", "versionId=3").name == "DeleteObject"
    assert s3_operation("DELETE", "/b/key", "uploadId=9").name == "AbortMultipartUpload"


def test_virtual_host_style_names_the_bucket_from_the_host() -> None:
    operation = s3_operation("DELETE", "/key", "", host="bucket-2.s3.localhost:5000")
    assert (operation.name, operation.resource) == ("DeleteObject", "bucket-2")


def test_dynamodb_operations_carry_their_table() -> None:
    headers = {"x-amz-target": "DynamoDB_20120810.UpdateItem",
               "authorization": "AWS4-HMAC-SHA256 Credential=t/20261122/us-east-1/dynamodb/aws4_request"}
    operation = classify("POST", "/", "", headers, json.dumps({"TableName": "eraser-local-deletion-tasks"}).encode())
    assert (operation.service, operation.name, operation.resource) == \
        ("dynamodb", "UpdateItem", "eraser-local-deletion-tasks")


def test_sqs_json_protocol_names_the_queue() -> None:
    headers = {"x-amz-target": "AmazonSQS.SendMessageBatch"}
    body = json.dumps({"QueueUrl": "http://127.0.0.1:1/123456789012/eraser-local-deletion"}).encode()
    operation = classify("POST", "/", "", headers, body)
    assert (operation.service, operation.name, operation.resource) == \
        ("sqs", "SendMessageBatch", "eraser-local-deletion")


def test_middleware_counts_and_passes_the_body_on_unchanged() -> None:
    seen: dict[str, bytes] = {}

    def application(environ: dict, start_response):  # type: ignore[no-untyped-def]
        seen["body"] = environ["wsgi.input"].read()
        start_response("500 Internal Server Error", [])
        return [b""]

    ledger = RequestLedger()
    body = b"<Delete><Object><Key>k</Key></Object></Delete>"
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/b", "QUERY_STRING": "delete", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body), "HTTP_AUTHORIZATION": SIGV4_S3["authorization"]}
    CountingMiddleware(application, ledger)(environ, lambda status, headers: None)
    requests, items, _ = ledger.snapshot()
    assert seen["body"] == body
    assert requests[("s3", "DeleteObjects", "b")] == 1
    assert requests[("s3", "DeleteObjects:500", "b")] == 1
    assert items[("s3", "DeleteObjects", "b")] == 1


def test_difference_keeps_only_what_happened_in_between() -> None:
    ledger = RequestLedger()
    ledger.record(classify("GET", "/b", "list-type=2", SIGV4_S3, b""))
    before, _, _ = ledger.snapshot()
    ledger.record(classify("DELETE", "/b/k", "", SIGV4_S3, b""))
    after, _, _ = ledger.snapshot()
    assert dict(difference(after, before)) == {("s3", "DeleteObject", "b"): 1}


LIST_ENVIRON = {"REQUEST_METHOD": "GET", "PATH_INFO": "/b", "QUERY_STRING": "list-type=2",
                "HTTP_AUTHORIZATION": SIGV4_S3["authorization"]}


class ClosingBody:
    """A response iterable with close(), the way WSGI servers must treat it; yields its parts lazily."""

    def __init__(self, parts: list[bytes], burn: int = 0) -> None:
        self.parts, self.burn, self.closed = parts, burn, False

    def __iter__(self):  # type: ignore[no-untyped-def]
        for part in self.parts:
            # CPU spent while the body is produced belongs to the request too.
            sum(index * index for index in range(self.burn))
            yield part

    def close(self) -> None:
        self.closed = True


def test_middleware_records_the_server_threads_cpu_time_under_the_operation() -> None:
    def application(environ: dict, start_response):  # type: ignore[no-untyped-def]
        start_response("200 OK", [])
        return ClosingBody([b"<ListBucketResult>", b"</ListBucketResult>"], burn=200_000)

    ledger = RequestLedger()
    CountingMiddleware(application, ledger)(dict(LIST_ENVIRON), lambda status, headers: None)
    _, _, seconds = ledger.snapshot()
    assert set(seconds) == {("s3", "ListObjectsV2", "b")}
    assert seconds[("s3", "ListObjectsV2", "b")] > 0


def test_middleware_closes_the_response_and_passes_its_body_on_unchanged() -> None:
    response = ClosingBody([b"part one, ", b"", b"part two"])
    statuses: list[str] = []

    def application(environ: dict, start_response):  # type: ignore[no-untyped-def]
        start_response("200 OK", [("Content-Type", "application/xml")])
        return response

    ledger = RequestLedger()
    body = CountingMiddleware(application, ledger)(dict(LIST_ENVIRON), lambda status, headers: statuses.append(status))
    assert response.closed
    assert b"".join(body) == b"part one, part two"
    assert list(body) == [b"part one, ", b"", b"part two"]
    assert statuses == ["200 OK"]
    requests, _, _ = ledger.snapshot()
    assert requests == Counter({("s3", "ListObjectsV2", "b"): 1})


def test_a_failing_application_still_has_its_cpu_time_recorded_and_its_response_closed() -> None:
    class Failing(ClosingBody):
        def __iter__(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("moto failed")

    response = Failing([])

    def application(environ: dict, start_response):  # type: ignore[no-untyped-def]
        return response

    ledger = RequestLedger()
    try:
        CountingMiddleware(application, ledger)(dict(LIST_ENVIRON), lambda status, headers: None)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the application's error should reach the server")
    requests, _, seconds = ledger.snapshot()
    assert response.closed
    assert ("s3", "ListObjectsV2", "b") in seconds
    # werkzeug answers an application's exception with a 500 that never passes start_response: counted all the same.
    assert requests == Counter({("s3", "ListObjectsV2", "b"): 1, ("s3", "ListObjectsV2:500", "b"): 1})


def test_cpu_time_spent_producing_the_body_counts_for_the_request(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    clock = [10.0]
    monkeypatch.setattr("bench.counting.time.thread_time", lambda: clock[0])

    def body():  # type: ignore[no-untyped-def]
        clock[0] += 0.25
        yield b"listing"

    def application(environ: dict, start_response):  # type: ignore[no-untyped-def]
        clock[0] += 0.5
        start_response("200 OK", [])
        return body()

    ledger = RequestLedger()
    assert CountingMiddleware(application, ledger)(dict(LIST_ENVIRON), lambda status, headers: None) == [b"listing"]
    assert ledger.snapshot()[2] == {("s3", "ListObjectsV2", "b"): 0.75}


def test_difference_of_float_tallies_drops_what_did_not_change() -> None:
    before = {("s3", "ListObjectsV2", "b"): 0.5, ("sqs", "ReceiveMessage", "q"): 0.1}
    after = {("s3", "ListObjectsV2", "b"): 0.75, ("sqs", "ReceiveMessage", "q"): 0.1 + 1e-12,
             ("dynamodb", "GetItem", "t"): 0.125}
    assert dict(difference(after, before)) == {("s3", "ListObjectsV2", "b"): 0.25, ("dynamodb", "GetItem", "t"): 0.125}


def test_ledger_snapshots_sum_the_server_seconds_of_each_operation() -> None:
    ledger = RequestLedger()
    operation = classify("GET", "/b", "list-type=2", SIGV4_S3, b"")
    ledger.record_server_seconds(operation, 0.25)
    _, _, before = ledger.snapshot()
    ledger.record_server_seconds(operation, 0.5)
    ledger.record_server_seconds(classify("DELETE", "/b/k", "", SIGV4_S3, b""), 0.125)
    _, _, after = ledger.snapshot()
    assert before == {("s3", "ListObjectsV2", "b"): 0.25}
    assert dict(difference(after, before)) == {("s3", "ListObjectsV2", "b"): 0.5, ("s3", "DeleteObject", "b"): 0.125}


def test_server_cpu_summary_adds_up_every_resource_by_operation() -> None:
    from bench.cli import Harness

    summary = Harness.server_cpu_summary({("s3", "ListObjectsV2", "bench-1"): 1.5, ("s3", "ListObjectsV2", "other"): 0.5,
                                          ("dynamodb", "GetItem", "tasks"): 0.25, ("sqs", "ReceiveMessage", "q"): 0.0})
    assert summary == {"dynamodb:GetItem": 0.25, "s3:ListObjectsV2": 2.0}


def test_request_summary_counts_dynamodb_reads_and_only_writes_as_task_writes():
    from bench.cli import Harness

    requests = Counter({("dynamodb", "GetItem", "eraser-local-deletion-tasks"): 5,
                        ("dynamodb", "TransactWriteItems", "eraser-local-deletion-tasks"): 3,
                        ("dynamodb", "PutItem", "eraser-local-idempotency"): 2,
                        ("s3", "DeleteObjects", "b"): 1, ("s3", "DeleteObjects", "other"): 7,
                        ("sqs", "SendMessageBatch", "q"): 4})
    summary, keys = Harness.request_summary(requests, Counter({("s3", "DeleteObjects", "b"): 1000}), "b")
    assert summary == {"dynamodb:GetItem": 5, "dynamodb:TransactWriteItems": 3, "dynamodb:PutItem": 2,
                       "tasks:writes": 3, "s3:DeleteObjects": 1, "sqs:SendMessageBatch": 4}
    assert keys == 1000
