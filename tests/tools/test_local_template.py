"""The local stack reads template.yaml as CloudFormation would: resources provisioned, Globals applied to functions,
event sources with their settings, schedule expressions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
from aws_lambda_powertools.shared import constants

from local.event_sources import (
    ScheduleSource,
    SqsSource,
    next_cron_time,
    rate_seconds,
    scheduled_event,
    sources_from_template,
)
from local.runner import function_specs
from local.template import ROOT
from tests.support import AwsStack


def test_provision_creates_every_table_and_queue_of_the_template(stack: AwsStack) -> None:
    tables = boto3.client("dynamodb").list_tables()["TableNames"]
    assert set(tables) >= {"eraser-test-tenancy", "eraser-test-credentials", "eraser-test-deletion-tasks",
                           "eraser-test-idempotency", "eraser-test-rate-limits"}
    tasks = boto3.client("dynamodb").describe_table(TableName="eraser-test-deletion-tasks")["Table"]
    assert [index["IndexName"] for index in tasks["GlobalSecondaryIndexes"]] == ["active-tasks"]
    ttl = boto3.client("dynamodb").describe_time_to_live(TableName="eraser-test-deletion-tasks")
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"


def test_queues_redrive_to_their_dead_letter_queues(stack: AwsStack) -> None:
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=stack.queue_url("DeletionQueue"), AttributeNames=["All"])
    redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
    dead_letter_arn = stack.resolver.attributes[("DeletionDeadLetterQueue", "Arn")]
    assert redrive["deadLetterTargetArn"] == dead_letter_arn
    assert int(redrive["maxReceiveCount"]) == 5
    assert attributes["Attributes"]["VisibilityTimeout"] == "540"


def test_provision_is_idempotent(stack: AwsStack) -> None:
    from local.provision import provision

    again = provision(boto3.session.Session(), stage="test", template=stack.template)
    assert again.refs["DeletionQueue"] == stack.queue_url("DeletionQueue")


def test_function_specs_apply_globals_and_the_function_s_own_settings(stack: AwsStack) -> None:
    specs = function_specs(stack.resolver, {"AWS_ENDPOINT_URL": "http://backend"}, stack.template)
    delete_object = specs["DeleteObjectFunction"]
    assert delete_object.code_dir == ROOT / "functions" / "delete_object"
    assert delete_object.handler == "app.lambda_handler"
    assert delete_object.timeout == 28 and delete_object.memory_mb == 256
    assert delete_object.environment["TENANCY_TABLE"] == "eraser-test-tenancy"
    assert delete_object.environment["DELETION_QUEUE_URL"] == stack.queue_url("DeletionQueue")
    assert delete_object.environment["AWS_ENDPOINT_URL"] == "http://backend"
    listing = specs["ListingFunction"]
    assert listing.timeout == 120 and listing.memory_mb == 512
    assert specs["PurgeBucketFunction"].environment["PURGE_WAIT_SECONDS"] == "5"
    process = delete_object.process_environment()
    assert process["_HANDLER"] == "app.lambda_handler"
    assert process["LAMBDA_TASK_ROOT"] == str(ROOT / "functions" / "delete_object")
    assert process["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"


def test_no_function_records_its_responses_in_traces(stack: AwsStack) -> None:
    # Responses carry key lists and task bodies; the tracer would copy them into X-Ray metadata.
    for spec in function_specs(stack.resolver, {}, stack.template).values():
        assert spec.environment.get(constants.TRACER_CAPTURE_RESPONSE_ENV) == "false", spec.logical_id
        assert spec.environment.get(constants.LOGGER_LOG_EVENT_ENV) == "false", spec.logical_id


def test_every_function_s_code_uri_is_a_directory_of_the_repository(stack: AwsStack) -> None:
    for spec in function_specs(stack.resolver, {}, stack.template).values():
        assert spec.code_dir.parent == ROOT / "functions", spec.logical_id


def test_sqs_event_sources_carry_the_template_s_settings(stack: AwsStack) -> None:
    sources = {(source.function, source.name): source for source in
               sources_from_template(stack.template, stack.resolver)}
    deletion = sources[("BatchDeleteFunction", "DeletionBatches")]
    assert isinstance(deletion, SqsSource)
    assert deletion.queue_url == stack.queue_url("DeletionQueue")
    assert deletion.queue_arn == stack.resolver.attributes[("DeletionQueue", "Arn")]
    assert deletion.batch_size == 5 and deletion.batching_window == 0
    assert deletion.concurrency == 20  # the BatchDeleteMaxConcurrency parameter's default
    assert deletion.report_batch_item_failures
    listing = sources[("ListingFunction", "ListingSteps")]
    assert isinstance(listing, SqsSource) and listing.batch_size == 1 and listing.concurrency == 10
    dead_letters = sources[("DeadLetterFunction", "DeletionDeadLetters")]
    assert isinstance(dead_letters, SqsSource)
    assert dead_letters.queue_url == stack.queue_url("DeletionDeadLetterQueue")
    watchdog = sources[("TaskWatchdogFunction", "Watchdog")]
    assert isinstance(watchdog, ScheduleSource) and watchdog.expression == "rate(5 minutes)"


def test_rate_expressions() -> None:
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(1 minute)") == 60
    assert rate_seconds("rate(2 hours)") == 7200
    assert rate_seconds("rate(1 day)") == 86400
    assert rate_seconds("cron(0 3 * * ? *)") is None


def test_cron_expressions_fire_at_the_next_matching_minute_in_utc() -> None:
    after = datetime(2024, 5, 1, 10, 30, 15, tzinfo=UTC)  # a Wednesday
    assert next_cron_time("cron(0 3 * * ? *)", after) == datetime(2024, 5, 2, 3, 0, tzinfo=UTC)
    assert next_cron_time("cron(0/15 * * * ? *)", after) == datetime(2024, 5, 1, 10, 45, tzinfo=UTC)
    assert next_cron_time("cron(0 12 ? * MON-FRI *)", after) == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert next_cron_time("cron(0 0 ? * SUN *)", after) == datetime(2024, 5, 5, 0, 0, tzinfo=UTC)
    assert next_cron_time("cron(30 6 1 JAN ? *)", after) == datetime(2025, 1, 1, 6, 30, tzinfo=UTC)


def test_scheduled_event_is_eventbridge_s() -> None:
    source = ScheduleSource(function="TaskWatchdogFunction", name="Watchdog", expression="rate(5 minutes)")
    event = scheduled_event(source, datetime(2024, 5, 1, 10, 30, tzinfo=UTC))
    assert event["version"] == "0"
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["time"] == "2024-05-01T10:30:00Z"
    assert event["resources"] == [source.rule_arn] and event["detail"] == {}

