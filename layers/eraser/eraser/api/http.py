"""What every API function does the same way: build a resolver whose errors render in one API family's shape,
read headers, and parse a JSON body into a request model."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFound
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from eraser import safe_json
from eraser.errors import EraserError, MalformedJson, NotFound, ValidationFailed
from eraser.observability import logger, metrics

Model = TypeVar("Model", bound=BaseModel)
ErrorRenderer = Callable[[Exception, APIGatewayProxyEvent], Response]

JSON_MEDIA_TYPES = ("application/json",)


def build_resolver(render_error: ErrorRenderer, *, refuse_repeated_query: bool = True) -> APIGatewayRestResolver:
    """A REST resolver whose every failure (domain error, unknown route, bug) is answered by ``render_error``, and
    which refuses a query parameter given more than once before any route runs (``refuse_repeated_query``; the S3
    route checks its query itself, with S3's order of refusals)."""
    app = APIGatewayRestResolver()
    app.use(middlewares=[_refuse_repeated_query, _count_answer] if refuse_repeated_query else [_count_answer])

    @app.exception_handler(Exception)
    def _render(error: Exception) -> Response:
        if isinstance(error, RouteNotFound):
            error = NotFound("Route not found")
        elif not isinstance(error, EraserError):
            # A bug or an AWS failure we did not plan for: log it (never the event: it carries credentials).
            logger.exception("Unhandled error")
        response = render_error(error, app.current_event)
        count_response(response.status_code)
        return response

    return app


def count_response(status_code: int) -> None:
    """One metric per answer, by status class: every API function publishes something, and alarms can watch 5xx."""
    metrics.add_metric(name=f"Responses{status_code // 100}xx", unit=MetricUnit.Count, value=1)


def repeated_query_parameters(event: APIGatewayProxyEvent) -> dict[str, int]:
    """Query parameters given more than once, with how often. API Gateway's ``queryStringParameters`` keeps only the
    last value; only ``multiValueQueryStringParameters`` shows the repeats."""
    return {name: len(values) for name, values in (event.multi_value_query_string_parameters or {}).items()
            if values is not None and len(values) > 1}


def _refuse_repeated_query(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    # ``?bucket=a&bucket=b`` would be read as one of its values: a destructive request must not guess which.
    repeated = repeated_query_parameters(app.current_event)
    if repeated:
        raise ValidationFailed("Each query parameter may be given once: " + ", ".join(
            f"'{name}' is given {count} times" for name, count in sorted(repeated.items())),
            [{"loc": ["query", name], "msg": "Given more than once", "type": "repeated_parameter"}
             for name in sorted(repeated)])
    return next_middleware(app)


DRY_RUN = "dry_run"
_FLAG_VALUES = {"true": True, "false": False}


def dry_run_of(event: APIGatewayProxyEvent) -> bool:
    """The ``dry_run`` query parameter: exactly ``true`` or ``false`` (absent is false). Anything else is refused
    before anything happens: a preview must never be taken for the real request, nor the reverse."""
    value = (event.query_string_parameters or {}).get(DRY_RUN)
    if value is None:
        return False
    if value not in _FLAG_VALUES:
        raise ValidationFailed("dry_run must be true or false",
                               [{"loc": ["query", DRY_RUN], "msg": "Input should be true or false",
                                 "type": "bool_parsing"}])
    return _FLAG_VALUES[value]


def without_dry_run(event: APIGatewayProxyEvent) -> dict[str, str]:
    """The query parameters but ``dry_run`` (read by ``dry_run_of``), for a route that validates the rest."""
    return {name: value for name, value in (event.query_string_parameters or {}).items() if name != DRY_RUN}


def refuse_query(event: APIGatewayProxyEvent, *, allowed: frozenset[str] = frozenset()) -> None:
    """For a destructive route that takes everything it acts on from its body or path: any query parameter (but
    ``allowed`` ones, such as ``dry_run``) is refused. ``POST /v1/trash/restore?bucket=a`` with
    ``{"bucket": "b", ...}`` names two buckets; acting on either would be a guess, and ignoring the query would act
    on what the client may not have meant."""
    names = sorted(((event.multi_value_query_string_parameters or {}).keys()
                    | (event.query_string_parameters or {}).keys()) - allowed)
    if names:
        raise ValidationFailed("This request takes what it acts on from its body or path only; query parameters are "
                               "not accepted: " + ", ".join(f"'{name}'" for name in names),
                               [{"loc": ["query", name], "msg": "Not accepted: it could contradict the request",
                                 "type": "extra_forbidden"} for name in names])


def refuse_all_but_the_path(event: APIGatewayProxyEvent) -> None:
    """For a route whose path alone says what to destroy (a purge, a bucket deletion): a query parameter (but
    ``dry_run``) or a body is refused. ``DELETE /storage/obj/a/purge`` with ``{"object_keys": ["x"]}`` would
    otherwise empty the whole bucket for a client that meant one key, and ``?bucket=b`` names a second bucket."""
    refuse_query(event, allowed=frozenset({DRY_RUN}))
    if body_bytes(event).strip():
        raise ValidationFailed("This request takes no body: its path says what to act on",
                               [{"loc": ["body"], "msg": "Not accepted: the path says what to act on",
                                 "type": "extra_forbidden"}])


def _count_answer(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    # Errors never come back through middlewares (they go to the exception handler), so this counts successes.
    response = next_middleware(app)
    count_response(response.status_code)
    return response


def headers_of(event: APIGatewayProxyEvent) -> dict[str, str]:
    """Request headers with lower-case names (API Gateway keeps the client's case)."""
    return {name.lower(): value for name, value in (event.headers or {}).items() if value is not None}


def request_id(event: APIGatewayProxyEvent) -> str:
    return event.request_context.request_id or "local"


def body_bytes(event: APIGatewayProxyEvent) -> bytes:
    """The body as the client sent it. API Gateway passes a body it does not take for text base64-encoded
    (``isBase64Encoded``); such a body need not be UTF-8, so it is not decoded here."""
    if not event.body:
        return b""
    if not event.is_base64_encoded:
        return event.body.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(event.body, validate=True)
    except ValueError as error:  # binascii.Error, or a body that is not even ASCII
        raise MalformedJson("json_invalid", "The body is not valid base64") from error


def parse_json_body(event: APIGatewayProxyEvent, model: type[Model], *, required: bool = True) -> Model:
    """The JSON body as ``model``: a wrong content type, a missing body, a body that is not a JSON document
    ``safe_json`` reads (not UTF-8, malformed, too deep, huge numbers, a member twice), missing or extra fields and
    wrong types all raise ``ValidationFailed`` (models forbid extra fields)."""
    data = body_bytes(event)
    if not data.strip():
        if not required:
            return model.model_validate({})
        raise ValidationFailed("A JSON request body is required", [{"loc": ["body"], "msg": "Field required",
                                                                   "type": "missing"}])
    media_type = headers_of(event).get("content-type", "").split(";")[0].strip().lower()
    if media_type not in JSON_MEDIA_TYPES:
        raise ValidationFailed(f"Content-Type must be application/json, not '{media_type or 'none'}'",
                               [{"loc": ["header", "content-type"], "msg": "Unsupported media type",
                                 "type": "unsupported_media_type"}])
    return validate(model, safe_json.loads(data), location="body")


def validate(model: type[Model], data: Any, *, location: str) -> Model:
    try:
        return model.model_validate(data)
    except PydanticValidationError as error:
        errors = [{"loc": [location, *item["loc"]], "msg": item["msg"], "type": item["type"]}
                  for item in error.errors(include_url=False, include_context=False, include_input=False)]
        raise ValidationFailed("Invalid request: " + "; ".join(
            f"{'.'.join(str(part) for part in item['loc'][1:]) or location}: {item['msg']}" for item in errors),
            errors) from error


def json_response(status_code: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    return Response(status_code=status_code, content_type="application/json",
                    body=json.dumps(body, ensure_ascii=False, default=str), headers=dict(headers or {}))
