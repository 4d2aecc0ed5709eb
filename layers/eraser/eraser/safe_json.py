"""JSON from a client, parsed so that no input can make the parser itself fail: every problem is ``MalformedJson``.

Python's ``json`` raises more than ``JSONDecodeError`` on hostile input: ``RecursionError`` for arrays or objects
nested about 1,000 deep (2 KB of ``[`` is enough), ``ValueError`` for an integer of more than 4,300 digits (CPython's
limit on int-from-string conversion), ``UnicodeDecodeError`` for bytes that are not UTF-8. It also accepts what RFC
8259 does not (``NaN``, ``Infinity``) and keeps the last of two members with the same name, where another parser
would keep the first: on a destructive request that ambiguity could name different objects, so it is refused.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from eraser.errors import MalformedJson

# No request document of this API is nested more than 3 deep; 32 leaves room without letting depth cost anything.
MAX_DEPTH = 32
# No number in a request document of this API needs more digits than this (page sizes, unix times).
MAX_INTEGER_DIGITS = 32

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_CHANGE = {"[": 1, "{": 1, "]": -1, "}": -1}


class _Refused(Exception):
    """Raised by the parser's hooks; becomes ``MalformedJson`` with ``kind`` as its type."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _Refused("json_number_too_large", f"An integer has more than {MAX_INTEGER_DIGITS} digits")
    return int(digits)


def _constant(name: str) -> Any:
    raise _Refused("json_invalid", f"'{name}' is not JSON")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for name, value in pairs:
        if name in document:
            raise _Refused("json_duplicate_field", f"The member '{name}' is given more than once")
        document[name] = value
    return document


def nesting_depth(text: str) -> int:
    """How deep arrays and objects are nested in ``text``, brackets inside strings ignored. Malformed text gets a
    number too (the parser refuses it afterwards)."""
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(_DEPTH_CHANGE[bracket] for bracket in brackets), default=0)


def decode_utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedJson("body_not_utf8", f"The body is not UTF-8 (byte {error.start} is not)") from error


def loads(data: str | bytes) -> Any:
    """The JSON document in ``data`` (bytes must be UTF-8), or ``MalformedJson``: not UTF-8, malformed, nested more
    than ``MAX_DEPTH`` deep, an integer of more than ``MAX_INTEGER_DIGITS`` digits, ``NaN`` or ``Infinity``, or an
    object with a member given twice."""
    text = decode_utf8(data) if isinstance(data, bytes) else data
    if nesting_depth(text) > MAX_DEPTH:
        raise MalformedJson("json_too_deep", f"Arrays and objects are nested more than {MAX_DEPTH} deep")
    try:
        return json.loads(text, parse_int=_integer, parse_constant=_constant, object_pairs_hook=_object)
    except _Refused as refused:
        raise MalformedJson(refused.kind, refused.message) from refused
    except json.JSONDecodeError as error:
        raise MalformedJson("json_invalid", f"Malformed JSON: {error}") from error
    except (RecursionError, ValueError) as error:
        # Only reachable if the checks above missed a case: still the client's input, never a 5xx.
        raise MalformedJson("json_invalid", "Malformed JSON") from error
