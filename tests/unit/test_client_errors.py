"""The `eraser` command reads each family's refusal of credentials as such, whatever status its page gives it."""

from __future__ import annotations

import json

import pytest
from eraser_cli.api import Answer, error_from


def katapult(status: int, code: str) -> Answer:
    body = json.dumps({"code": code, "description": "d", "detail": {}}).encode()
    return Answer(status, {"content-type": "application/json"}, body)


@pytest.mark.parametrize(("answer", "is_authentication"), [
    (katapult(400, "missing_api_token"), True),  # Katapult's page lists its missing token as 400
    (katapult(403, "invalid_api_token"), True),
    (katapult(400, "validation_error"), False),
    (katapult(406, "task_queueing_error"), False),
])
def test_katapult_credential_refusals_read_as_authentication(answer, is_authentication):
    error = error_from(answer)
    assert error.code == json.loads(answer.body)["code"]
    assert error.is_authentication is is_authentication
