"""Creates the template's DynamoDB tables, SQS queues, KMS keys, S3 buckets and EventBridge buses on a backend (moto,
in-process or server, or LocalStack) and returns the values their ``Ref``/``GetAtt`` resolve to, so that functions see
the same environment as on AWS."""

from __future__ import annotations

import json
from typing import Any

from local.template import Resolver, load_template, parameter_defaults, resources_of_type


def provision(session: Any, stage: str = "local", template: dict[str, Any] | None = None,
              parameter_overrides: dict[str, Any] | None = None) -> Resolver:
    """Create tables, queues, keys, buckets and buses (idempotently) and return a resolver for the template's
    intrinsics."""
    template = template or load_template()
    parameters = {**parameter_defaults(template), **(parameter_overrides or {}), "Stage": stage}
    refs: dict[str, Any] = dict(parameters)
    attributes: dict[tuple[str, str], Any] = {}
    resolver = Resolver(refs, attributes)

    sqs = session.client("sqs")
    queues = resources_of_type(template, "AWS::SQS::Queue")
    # Dead-letter queues first: the others' redrive policies point at them.
    ordered = sorted(queues.items(), key=lambda item: "RedrivePolicy" in item[1].get("Properties", {}))
    for name, resource in ordered:
        properties = resolver(resource.get("Properties", {}))
        queue_name = properties.pop("QueueName", f"{name}-{stage}")
        queue_attributes = {key: (json.dumps(value) if isinstance(value, dict) else str(value))
                            for key, value in properties.items() if key != "Tags"}
        url = sqs.create_queue(QueueName=queue_name, Attributes=queue_attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        refs[name] = url
        attributes[(name, "Arn")] = arn
        attributes[(name, "QueueName")] = queue_name
        attributes[(name, "QueueUrl")] = url

    kms = session.client("kms")
    for name, resource in resources_of_type(template, "AWS::KMS::Key").items():
        # An alias per stage and key makes provisioning idempotent (a KMS key has no name to find it by).
        alias = f"alias/eraser-{stage}-{name}"
        try:
            metadata = kms.describe_key(KeyId=alias)["KeyMetadata"]
        except kms.exceptions.NotFoundException:
            metadata = kms.create_key(Description=str(resolver(resource.get("Properties", {})).get("Description", name)))[
                "KeyMetadata"]
            kms.create_alias(AliasName=alias, TargetKeyId=metadata["KeyId"])
        refs[name] = metadata["KeyId"]
        attributes[(name, "Arn")] = metadata["Arn"]

    s3 = session.client("s3")
    for name, resource in resources_of_type(template, "AWS::S3::Bucket").items():
        # CloudFormation names the bucket when the template does not; locally the stage and logical id do. Its
        # encryption, public access block and lifecycle are left out: the local backends serve nobody else, and
        # nothing lives long enough there to expire.
        bucket_name = resolver(resource.get("Properties", {})).get("BucketName") or f"eraser-{stage}-{name.lower()}"
        try:
            s3.create_bucket(Bucket=bucket_name)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        refs[name] = bucket_name
        attributes[(name, "Arn")] = f"arn:aws:s3:::{bucket_name}"

    events = session.client("events")
    buses = {bus["Name"]: bus["Arn"] for bus in events.list_event_buses()["EventBuses"]}
    for name, resource in resources_of_type(template, "AWS::Events::EventBus").items():
        bus_name = resolver(resource.get("Properties", {}))["Name"]
        if bus_name not in buses:
            buses[bus_name] = events.create_event_bus(Name=bus_name)["EventBusArn"]
        refs[name] = bus_name
        attributes[(name, "Arn")] = buses[bus_name]
        attributes[(name, "Name")] = bus_name

    dynamodb = session.client("dynamodb")
    existing = set(dynamodb.list_tables()["TableNames"])
    for name, resource in resources_of_type(template, "AWS::DynamoDB::Table").items():
        properties = resolver(resource.get("Properties", {}))
        table_name = properties["TableName"]
        refs[name] = table_name
        attributes[(name, "Arn")] = f"arn:aws:dynamodb:us-east-1:123456789012:table/{table_name}"
        if table_name in existing:
            continue
        arguments: dict[str, Any] = {
            "TableName": table_name,
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "KeySchema": properties["KeySchema"],
            "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if properties.get("GlobalSecondaryIndexes"):
            arguments["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
        dynamodb.create_table(**arguments)
        # On AWS (and LocalStack) a table is CREATING for a while and refuses UpdateTimeToLive until ACTIVE.
        dynamodb.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
    return resolver


def function_environment(resolver: Resolver, template: dict[str, Any], function: str) -> dict[str, str]:
    """The environment a function gets on AWS: Globals' variables, then its own."""
    global_variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own = template["Resources"][function].get("Properties", {}).get("Environment", {}).get("Variables", {})
    return {key: str(value) for key, value in resolver({**global_variables, **own}).items()}
