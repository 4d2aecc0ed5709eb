"""The one JSON parser for client input: whatever the bytes, a document or ``MalformedJson``, never another error."""

from __future__ import annotations

import json

import pytest

from eraser import safe_json
from eraser.errors import MalformedJson, ValidationFailed


def refusal(data: str | bytes) -> MalformedJson:
    with pytest.raises(MalformedJson) as raised:
        safe_json.loads(data)
    return raised.value


def test_a_well_formed_document_is_parsed() -> None:
    document = {"object_keys": ["a.txt", "ünï/☃"], "path": [], "n": -12, "f": 1.5, "t": True, "z": None}
    assert safe_json.loads(json.dumps(document)) == document
    assert safe_json.loads(json.dumps(document).encode("utf-8")) == document


@pytest.mark.parametrize("levels", [safe_json.MAX_DEPTH + 1, 1_000, 100_000])
@pytest.mark.parametrize(("opener", "closer"), [("[", "]"), ('{"a": ', "}")])
def test_nesting_deeper_than_the_limit_is_refused_before_parsing(levels: int, opener: str, closer: str) -> None:
    error = refusal(opener * levels + "1" + closer * levels)
    assert error.kind == "json_too_deep"
    assert isinstance(error, ValidationFailed) and error.errors[0]["type"] == "json_too_deep"


def test_nesting_at_the_limit_is_parsed() -> None:
    text = "[" * safe_json.MAX_DEPTH + "]" * safe_json.MAX_DEPTH
    assert safe_json.nesting_depth(text) == safe_json.MAX_DEPTH
    safe_json.loads(text)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    key = "[" * 5_000 + '\\"{' * 100
    assert safe_json.loads('{"object_keys": ["' + key + '"]}') == {"object_keys": ["[" * 5_000 + '"{' * 100]}


def test_deep_nesting_inside_an_unterminated_string_is_still_a_refusal() -> None:
    assert isinstance(refusal('{"a": "' + "[" * 5_000), MalformedJson)


@pytest.mark.parametrize("number", ["9" * 5_000, "-" + "9" * 5_000, "1" * (safe_json.MAX_INTEGER_DIGITS + 1)])
def test_an_integer_with_too_many_digits_is_refused(number: str) -> None:
    assert refusal('{"n": ' + number + "}").kind == "json_number_too_large"
    assert refusal("[" + number + "]").kind == "json_number_too_large"


def test_an_integer_at_the_digit_limit_is_parsed() -> None:
    assert safe_json.loads("9" * safe_json.MAX_INTEGER_DIGITS) == int("9" * safe_json.MAX_INTEGER_DIGITS)


def test_a_long_float_is_not_a_crash() -> None:
    assert safe_json.loads("9" * 5_000 + ".5") == float("inf")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_constants_are_refused(constant: str) -> None:
    assert refusal('{"n": ' + constant + "}").kind == "json_invalid"


def test_a_member_given_twice_is_refused() -> None:
    error = refusal('{"object_keys": ["victim.txt"], "path": [], "object_keys": ["nothing"]}')
    assert error.kind == "json_duplicate_field" and "object_keys" in error.message


@pytest.mark.parametrize("data", [b'{"k": "\xff\xfe"}', b"\xc3\x28", b'{"a": 1}\x80', "{}".encode("utf-16")])
def test_bytes_that_are_not_utf8_are_refused(data: bytes) -> None:
    assert refusal(data).kind == "body_not_utf8"


@pytest.mark.parametrize("text", ["", "{", '{"a": }', "[1,]", "{'a': 1}", '{"a": 1} x', "\ufeff{}"])
def test_malformed_json_is_refused(text: str) -> None:
    assert refusal(text).kind == "json_invalid"
