"""Test support: a moto backend provisioned from ``template.yaml``, tenants, API Gateway events, function loading."""

from __future__ import annotations

import base64
import contextlib
import copy
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import boto3
from moto import mock_aws

from eraser import aws, config
from eraser.auth import ALL_SCOPES, CredentialStore
from eraser.clock import new_id, utc_now
from eraser.tenancy import Bucket, BucketConfiguration, Organization, TenancyRepository
from local.provision import function_environment, provision
from local.template import load_template

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
FUNCTIONS = ROOT / "functions"


@dataclass
class AwsStack:
    template: dict[str, Any]
    environment: dict[str, str]
    s3: Any
    resolver: Any

    def queue_url(self, logical_id: str) -> str:
        return str(self.resolver.refs[logical_id])


@contextlib.contextmanager
def make_stack() -> Iterator[AwsStack]:
    with mock_aws():
        aws.reset_clients()
        config.settings.cache_clear()
        template = load_template()
        resolver = provision(boto3.session.Session(), stage="test", template=template)
        environment: dict[str, str] = {}
        for name, resource in template["Resources"].items():
            if resource["Type"] == "AWS::Serverless::Function":
                environment.update(function_environment(resolver, template, name))
        environment["PURGE_WAIT_SECONDS"] = "0"
        environment["JWT_SECRET"] = os.environ["JWT_SECRET"]
        saved = dict(os.environ)
        os.environ.update(environment)
        config.settings.cache_clear()
        try:
            yield AwsStack(template=template, environment=environment, s3=boto3.client("s3"), resolver=resolver)
        finally:
            os.environ.clear()
            os.environ.update(saved)
            config.settings.cache_clear()
            aws.reset_clients()


@dataclass
class Tenant:
    organization: Organization
    api_key: str
    bucket: Bucket
    s3: Any
    extra_buckets: dict[str, Bucket] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.api_key}

    def key_with_scopes(self, *scopes: str) -> str:
        api_key, _ = CredentialStore().issue(self.organization.id, list(scopes), name="limited")
        return api_key

    def add_bucket(self, name: str, *, versioned: bool = False, object_lock: bool = False,
                   configuration: BucketConfiguration | None = None) -> Bucket:
        bucket = register_bucket(self.organization, name, versioned=versioned, object_lock=object_lock,
                                 configuration=configuration)
        self.extra_buckets[name] = bucket
        return bucket

    def put(self, key: str, body: bytes | str = b"x", bucket: Bucket | None = None, **kwargs: Any) -> dict[str, Any]:
        target = bucket or self.bucket
        return self.s3.put_object(Bucket=target.s3_bucket, Key=key, Body=body, **kwargs)

    def keys(self, bucket: Bucket | None = None) -> list[str]:
        return list_keys(self.s3, (bucket or self.bucket).s3_bucket)

    def versions(self, bucket: Bucket | None = None) -> list[tuple[str, str, bool]]:
        """Every (key, version id, is delete marker) in the bucket."""
        return list_versions(self.s3, (bucket or self.bucket).s3_bucket)


def list_keys(s3: Any, bucket: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return sorted(keys)


def list_versions(s3: Any, bucket: str) -> list[tuple[str, str, bool]]:
    found: list[tuple[str, str, bool]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        found += [(item["Key"], item["VersionId"], False) for item in page.get("Versions", [])]
        found += [(item["Key"], item["VersionId"], True) for item in page.get("DeleteMarkers", [])]
    return sorted(found)


def register_bucket(organization: Organization, name: str, *, versioned: bool = False, object_lock: bool = False,
                    configuration: BucketConfiguration | None = None, s3_bucket: str | None = None) -> Bucket:
    s3 = boto3.client("s3")
    s3_name = s3_bucket or f"eraser-test-{organization.sub_domain}-{name}"
    arguments: dict[str, Any] = {"Bucket": s3_name}
    if object_lock:
        arguments["ObjectLockEnabledForBucket"] = True
    s3.create_bucket(**arguments)
    if versioned or (configuration and configuration.trash_enabled):
        s3.put_bucket_versioning(Bucket=s3_name, VersioningConfiguration={"Status": "Enabled"})
    bucket = Bucket(id=new_id("bkt"), name=name, organization_id=organization.id, s3_bucket=s3_name,
                    created_at=utc_now(), configuration=configuration or BucketConfiguration())
    TenancyRepository().put_bucket(bucket)
    return bucket


def make_tenant(stack: AwsStack, sub_domain: str, account_id: str = "123456789012") -> Tenant:
    organization = Organization(id=new_id("org"), sub_domain=sub_domain, account_id=account_id,
                                created_at=utc_now())
    TenancyRepository().put_organization(organization)
    api_key, _ = CredentialStore().issue(organization.id, sorted(scope.value for scope in ALL_SCOPES), name="all")
    bucket = register_bucket(organization, "photos")
    return Tenant(organization=organization, api_key=api_key, bucket=bucket, s3=stack.s3)


# --- API Gateway events ------------------------------------------------------------------------------------------------
def load_event(name: str) -> dict[str, Any]:
    with open(EVENTS / name, encoding="utf-8") as handle:
        return json.load(handle)


_BASE_PROXY_EVENT = "api_gateway_proxy_base.json"


def api_event(method: str, resource: str, path_parameters: dict[str, str] | None = None, *,
              query: dict[str, str] | None = None, headers: dict[str, str] | None = None,
              body: str | bytes | dict[str, Any] | list[Any] | None = None,
              content_type: str | None = "application/json") -> dict[str, Any]:
    """A REST API (v1) proxy event as API Gateway sends it for ``method resource``, path parameters filled in."""
    event = copy.deepcopy(load_event(_BASE_PROXY_EVENT))
    path = resource
    for name, value in (path_parameters or {}).items():
        path = path.replace("{" + name + "+}", value).replace("{" + name + "}", value)
    event.update({"httpMethod": method, "resource": resource, "path": path,
                  "pathParameters": path_parameters or None, "queryStringParameters": query or None,
                  "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None})
    all_headers = dict(headers or {})
    if body is not None and content_type and not any(h.lower() == "content-type" for h in all_headers):
        all_headers["Content-Type"] = content_type
    event["headers"] = all_headers
    event["multiValueHeaders"] = {name: [value] for name, value in all_headers.items()}
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, bytes):
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = body, False
    event["requestContext"] = {**event["requestContext"], "httpMethod": method, "resourcePath": resource,
                               "path": f"/test{quote(path)}", "requestId": f"req-{os.urandom(4).hex()}"}
    return event


# --- functions -----------------------------------------------------------------------------------------------------
class LambdaContext:
    function_name = "test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "test-request"
    log_group_name = "/aws/lambda/test"
    log_stream_name = "test"

    def __init__(self, remaining_ms: int = 60_000) -> None:
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


def load_function(directory: str) -> ModuleType:
    """Import ``functions/<directory>/app.py`` under a unique module name (every function's module is ``app``)."""
    module_name = f"eraser_function_{directory}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, FUNCTIONS / directory / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def invoke(directory: str, event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    return load_function(directory).lambda_handler(event, context or LambdaContext())


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None


def response_header(response: dict[str, Any], name: str) -> str | None:
    for source in (response.get("headers") or {}, {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}):
        for header, value in source.items():
            if header.lower() == name.lower():
                return value
    return None


@contextlib.contextmanager
def dynamodb_key_limits() -> Iterator[list[str]]:
    """Make the domain's DynamoDB clients refuse oversized or non-UTF-8 key attributes as DynamoDB does
    (ValidationException) where moto, on reads, does not. Yields the operations that were sent."""
    from botocore.exceptions import ClientError

    sent: list[str] = []

    def refuse(operation: str) -> ClientError:
        return ClientError({"Error": {"Code": "ValidationException",
                                      "Message": "One or more parameter values were invalid: key size"}}, operation)

    def check(params: dict[str, Any], model: Any, **_: Any) -> None:
        sent.append(model.name)
        keys = [params["Key"]] if "Key" in params else []
        keys += [key for request in params.get("RequestItems", {}).values() for key in request.get("Keys", [])]
        for key in keys:
            for name, value in key.items():
                text = value.get("S") if isinstance(value, dict) else value
                if not isinstance(text, str):
                    continue
                try:
                    size = len(text.encode("utf-8"))
                except UnicodeEncodeError as error:
                    raise refuse(model.name) from error
                if size > (2048 if name == "pk" else 1024):  # the partition key, the sort key
                    raise refuse(model.name)

    clients = [aws.dynamodb().meta.client, aws.dynamodb_client()]
    for client in clients:
        client.meta.events.register("before-parameter-build.dynamodb", check)
    try:
        yield sent
    finally:
        for client in clients:
            client.meta.events.unregister("before-parameter-build.dynamodb", check)
