"""``storage/gateway.py`` talks to tenants' S3 and nothing else in the domain does (``aws.py`` creates the clients,
``admin.py``'s operator commands keep their own, ``storage/receipt_store.py`` writes Eraser's own receipts bucket). An
AST scan of ``layers/eraser/eraser``: no other module reaches an S3 client (``aws.s3()``, ``aws.s3_single_attempt()``),
calls an S3 operation boto3-style (an S3 operation's name with boto3's CamelCase parameters, ``Bucket=``...), or reads
botocore's ``ClientError`` unless it is one of the modules whose ``ClientError`` comes from DynamoDB, SQS or KMS."""

from __future__ import annotations

import ast
from pathlib import Path

import botocore.session
from botocore import xform_name

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "eraser" / "eraser"
# Allowed to hold S3 clients: the gateway, the client factory, and the operator commands. And the receipts store:
# it writes and pre-signs in Eraser's own receipts bucket (the stage's, with its own client, aws.receipts_s3), never
# in a tenant's, so the tenant gateway's rules (the owner named on every call, a tenant's deadline) do not apply.
S3_CALLERS = {"storage/gateway.py", "aws.py", "admin.py", "storage/receipt_store.py"}
# Their ClientError is DynamoDB's, SQS's or KMS's (tasks/events.py: its de-duplication record), never S3's.
NON_S3_CLIENT_ERRORS = {"auth.py", "ratelimit.py", "tenancy.py", "tasks/repository.py", "tasks/queues.py",
                        "tasks/events.py"}
S3_OPERATIONS = {xform_name(name) for name in botocore.session.get_session().get_service_model("s3").operation_names}


def _boto3_style(call: ast.Call) -> bool:
    return any(keyword.arg is None or keyword.arg[:1].isupper() for keyword in call.keywords)


def violations(source: str, module: str) -> list[str]:
    """What in ``source`` (module ``module``, relative to the package) bypasses the gateway."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        line = f"{module}:{getattr(node, 'lineno', 0)}"
        if module not in S3_CALLERS:
            if (isinstance(node, ast.Attribute) and node.attr in ("s3", "s3_single_attempt")
                    and isinstance(node.value, ast.Name) and node.value.id == "aws"):
                found.append(f"{line} uses aws.{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module == "eraser.aws" and any(
                    alias.name in ("s3", "s3_single_attempt") for alias in node.names):
                found.append(f"{line} imports an S3 client factory")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in S3_OPERATIONS and _boto3_style(node)):
                found.append(f"{line} calls S3's {node.func.attr} directly")
        if module not in NON_S3_CLIENT_ERRORS | S3_CALLERS:
            if isinstance(node, ast.ImportFrom) and node.module == "botocore.exceptions" and any(
                    alias.name == "ClientError" for alias in node.names):
                found.append(f"{line} imports ClientError")
            if isinstance(node, ast.Attribute) and node.attr == "ClientError":
                found.append(f"{line} reads ClientError")
    return found


def test_only_the_gateway_calls_s3():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert any(path.name == "gateway.py" for path in modules)
    found = [violation for path in modules
             for violation in violations(path.read_text(encoding="utf-8"), path.relative_to(PACKAGE).as_posix())]
    assert found == []


def test_the_scan_finds_each_way_around_the_gateway():
    source = """
from botocore.exceptions import ClientError
from eraser import aws

def sneak(client, bucket):
    aws.s3().delete_objects(Bucket=bucket, Delete={"Objects": []})
    client.list_objects_v2(**{"Bucket": bucket})
    try:
        client.head_object(Bucket=bucket, Key="k")
    except ClientError:
        pass
"""
    found = violations(source, "storage/sneaky.py")
    assert sorted(violation.split(" ", 1)[1] for violation in found) == sorted([
        "imports ClientError", "uses aws.s3", "calls S3's delete_objects directly",
        "calls S3's list_objects_v2 directly", "calls S3's head_object directly"])
    # The gateway's own methods take Python names, which the scan lets through.
    assert violations("def fine(bucket):\n    bucket.delete_objects([{'Key': 'k'}])\n"
                      "    bucket.head_object('k', version_id=None)\n", "tasks/lister.py") == []
