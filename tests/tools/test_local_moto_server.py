"""The embedded backend's DynamoDB keeps every acknowledged write under concurrency (moto alone does not)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from werkzeug.serving import make_server

from local.moto_server import moto_application

TRIALS = 6
WRITERS = 8
# moto copies the transaction's tables in item order: the writes' table first, then a larger one, whose copy takes
# long enough for the PutItems to land on the live writes' table before the failed transaction restores its copy.
PADDING_ITEMS = 3000


@pytest.fixture
def endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, moto_application(serialize_dynamodb=request.param), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def _lost_writes(endpoint: str, table: str) -> int:
    """Run TRIALS rounds of WRITERS failing transactions and WRITERS PutItems at once; the acknowledged PutItems
    missing afterwards."""
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                            aws_secret_access_key="testing",
                            config=Config(max_pool_connections=2 * WRITERS, retries={"max_attempts": 1}))
    padding = f"{table}-padding"
    for name in (table, padding):
        dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "lock"}})
    dynamodb.batch_write_item(RequestItems={padding: [{"PutRequest": {"Item": {"pk": {"S": "padding-0"}}}}]})
    for start in range(0, PADDING_ITEMS, 25):
        dynamodb.batch_write_item(RequestItems={padding: [
            {"PutRequest": {"Item": {"pk": {"S": f"padding-{index}"}, "data": {"S": "x" * 100}}}}
            for index in range(start, start + 25)]})

    def failing_transaction(_: int) -> None:
        try:
            dynamodb.transact_write_items(TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "lock"}},
                         "ConditionExpression": "attribute_not_exists(pk)"}},
                {"ConditionCheck": {"TableName": padding, "Key": {"pk": {"S": "padding-0"}},
                                    "ConditionExpression": "attribute_exists(pk)"}}])
        except dynamodb.exceptions.TransactionCanceledException:
            return
        raise AssertionError("the transaction's condition should have failed")

    lost = 0
    for trial in range(TRIALS):
        keys = [f"write-{trial}-{index}" for index in range(WRITERS)]
        with ThreadPoolExecutor(2 * WRITERS) as pool:
            transactions = [pool.submit(failing_transaction, index) for index in range(WRITERS)]
            writes = [pool.submit(dynamodb.put_item, TableName=table, Item={"pk": {"S": key}}) for key in keys]
            for future in [*transactions, *writes]:
                future.result()
        lost += sum("Item" not in dynamodb.get_item(TableName=table, Key={"pk": {"S": key}}) for key in keys)
    return lost


@pytest.mark.parametrize("endpoint", [True], indirect=True)
def test_no_acknowledged_write_is_lost_with_dynamodb_serialized(endpoint: str) -> None:
    assert _lost_writes(endpoint, "serialized") == 0


@pytest.mark.parametrize("endpoint", [False], indirect=True)
def test_moto_alone_loses_acknowledged_writes(endpoint: str) -> None:
    lost = _lost_writes(endpoint, "unserialized")
    print(f"moto without the lock lost {lost} of {TRIALS * WRITERS} acknowledged PutItems")
