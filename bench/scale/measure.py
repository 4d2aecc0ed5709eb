"""`python -m bench.scale.measure`: the model's client-side parameters, measured on this machine with the engine's
own code and botocore's own (de)serializers, no network: writes bench/results/scale-measurements.json.

- ``client_page_cpu_ms``: botocore parsing a 1000-key ListObjectsV2 answer (with the engine's timestamp parser);
- ``page_cpu_ms``: that, plus the lister's own work on the page (cut_chunks, one JSON body per chunk);
- ``chunk_cpu_ms``: a batch-delete worker on one 1000-key chunk: parse the message, serialize the DeleteObjects
  request, parse its 1000-entry answer;
- ``chunk_message_kib``: the SQS body of a 1000-key chunk (keys like ``p00042/000000123456``);
- ``task_item_kib``: the task item of a running purge with a cursor, as DynamoDB sizes it (names + values, about
  its JSON).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent.parent / "results"
REPEATS = 15


def cpu_ms(work: Callable[[], Any]) -> float:
    samples = []
    for _ in range(REPEATS):
        started = time.process_time()
        work()
        samples.append((time.process_time() - started) * 1000)
    return statistics.median(samples)


def list_answer(keys: list[str]) -> bytes:
    items = "".join(f"<Contents><Key>{key}</Key><LastModified>2026-11-23T02:23:00.000Z</LastModified>"
                    f"<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>1</Size>"
                    f"<StorageClass>STANDARD</StorageClass></Contents>" for key in keys)
    return (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/'
            f'2006-03-01/"><Name>b</Name><Prefix></Prefix><KeyCount>{len(keys)}</KeyCount><MaxKeys>1000</MaxKeys>'
            f"<IsTruncated>true</IsTruncated><NextContinuationToken>t</NextContinuationToken>{items}"
            f"</ListBucketResult>").encode()


def delete_answer(keys: list[str]) -> bytes:
    items = "".join(f"<Deleted><Key>{key}</Key></Deleted>" for key in keys)
    return (f'<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"{items}</DeleteResult>").encode()


def main() -> int:
    import botocore.parsers
    import botocore.serialize
    import botocore.session

    from eraser import aws
    from eraser.storage.listing import ListedVersion
    from eraser.tasks.model import ChunkMessage, ListingCursor, Selection, Target, Task, TaskKind, TaskStatus
    from eraser.tasks.queues import cut_chunks
    from eraser.tasks.repository import to_item

    keys = [f"p00042/{index:012d}" for index in range(1000)]
    session = botocore.session.get_session()
    s3_model = session.get_service_model("s3")
    parser = botocore.parsers.create_parser("rest-xml")
    parser._timestamp_parser = aws.fast_timestamp  # the engine's clients parse timestamps this way (aws.session)
    listing = s3_model.operation_model("ListObjectsV2")
    deleting = s3_model.operation_model("DeleteObjects")
    listed_body = list_answer(keys)
    deleted_body = delete_answer(keys)
    serializer = botocore.serialize.create_serializer("rest-xml")

    def parse_page() -> dict[str, Any]:
        return parser.parse({"body": listed_body, "headers": {}, "status_code": 200}, listing.output_shape)

    page = parse_page()

    def lister_page() -> None:
        answer = parse_page()
        entries = [ListedVersion(item["Key"], None, int(item["Size"]), item["LastModified"], True, False)
                   for item in answer["Contents"]]
        for chunk in cut_chunks("task_0123456789abcdef", 0, 1, entries, 0, with_version_ids=False):
            chunk.model_dump_json(exclude_none=True)

    chunk = cut_chunks("task_0123456789abcdef", 0, 1,
                       [ListedVersion(item["Key"], None, 1, item["LastModified"], True, False)
                        for item in page["Contents"]], 0, with_version_ids=False)[0]
    body = chunk.model_dump_json(exclude_none=True)

    def worker_chunk() -> None:
        message = ChunkMessage.model_validate_json(body)
        serializer.serialize_to_request({"Bucket": "b", "ExpectedBucketOwner": "123456789012", "Delete": {
            "Objects": [{"Key": entry.k} for entry in message.entries], "Quiet": False}}, deleting)
        parser.parse({"body": deleted_body, "headers": {}, "status_code": 200}, deleting.output_shape)

    now = datetime.now(UTC)
    task = Task(id="task_0123456789abcdef", kind=TaskKind.PURGE_BUCKET, organization_id="org_0123456789abcdef",
                account_id="123456789012", targets=[Target(bucket_id="bkt_0123456789abcdef",
                                                           bucket_name="media-archive",
                                                           s3_bucket="eraser-prod-media-archive")],
                selection=Selection.everything(), requested_by="key:1d5f6d6a5517", created_at=now,
                heartbeat_at=now, status=TaskStatus.RUNNING, started_at=now,
                cursor=ListingCursor(continuation_token="1" * 150, next_seq=123456))
    item = to_item(task)
    item.update({"claim_step": "list:1:123", "claim_token": "claim_0123456789abcdef",
                 "claim_until": "2026-11-23T02:23:00.000000Z"})
    measured = {
        "client_page_cpu_ms": round(cpu_ms(parse_page), 2),
        "page_cpu_ms": round(cpu_ms(lister_page), 2),
        "chunk_cpu_ms": round(cpu_ms(worker_chunk), 2),
        "chunk_message_kib": round(len(body.encode()) / 1024, 1),
        "task_item_kib": round(len(json.dumps(item, default=str).encode()) / 1024, 2),
    }
    document = {"measured_at": now.isoformat(timespec="seconds"), "repeats": REPEATS, "values": measured,
                "method": __doc__}
    output = RESULTS / "scale-measurements.json"
    output.write_text(json.dumps(document, indent=1) + "\n")
    print(json.dumps(measured, indent=1))
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
