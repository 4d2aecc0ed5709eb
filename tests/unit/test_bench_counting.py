"""The bench's request classification: what the backend was asked, named as the S3/DynamoDB/SQS references do."""

from __future__ import annotations

import io
import json

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
    requests, items = ledger.snapshot()
    assert seen["body"] == body
    assert requests[("s3", "DeleteObjects", "b")] == 1
    assert requests[("s3", "DeleteObjects:500", "b")] == 1
    assert items[("s3", "DeleteObjects", "b")] == 1


def test_difference_keeps_only_what_happened_in_between() -> None:
    ledger = RequestLedger()
    ledger.record(classify("GET", "/b", "list-type=2", SIGV4_S3, b""))
    before, _ = ledger.snapshot()
    ledger.record(classify("DELETE", "/b/k", "", SIGV4_S3, b""))
    after, _ = ledger.snapshot()
    assert dict(difference(after, before)) == {("s3", "DeleteObject", "b"): 1}
