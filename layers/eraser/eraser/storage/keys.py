"""What S3 accepts as an object key, and what Eraser accepts as a folder path.

S3 keys are 1 to 1024 bytes of UTF-8. A Python ``str`` parsed from JSON can still hold a lone surrogate (``"\\ud800"``
is valid JSON), which has no UTF-8 form: such a key could never exist in S3, so it is refused.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StrictStr

MAX_KEY_BYTES = 1024
# S3 refuses a DeleteObjects call with more than 1000 keys (MalformedXML); moto accepts more, so Eraser enforces it.
DELETE_OBJECTS_MAX_KEYS = 1000

# XML 1.0 cannot carry these characters at all, and S3 normalizes a carriage return inside XML text to a line feed.
# DeleteObjects sends keys in an XML body (S3 answers MalformedXML, or deletes the wrong key), so such keys are deleted
# one by one with DeleteObject, whose key travels URL-encoded in the path.
_NOT_XML_SAFE = re.compile("[\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

FOLDER_SEPARATOR = "/"


def utf8_length(text: str) -> int:
    """Bytes of ``text`` in UTF-8; raises ``ValueError`` for a lone surrogate."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as error:
        raise ValueError("must be valid UTF-8 (it contains a lone surrogate)") from error


def validate_object_key(key: str) -> str:
    """``key`` if S3 could store it, else ``ValueError`` with the reason."""
    size = utf8_length(key)
    if size == 0:
        raise ValueError("an object key must not be empty")
    if size > MAX_KEY_BYTES:
        raise ValueError(f"an object key is at most {MAX_KEY_BYTES} bytes of UTF-8, this one is {size}")
    return key


# A request model's field holding an object key: a JSON string S3 could store (checked by ``validate_object_key``).
ObjectKey = Annotated[StrictStr, AfterValidator(validate_object_key)]


def folder_prefix(path: str) -> str:
    """The key prefix a folder path stands for: ``pdf`` and ``pdf/`` both mean ``pdf/``, which never matches
    ``pdf-old/...``.

    A path must name a folder, never the whole bucket (emptying a bucket is the purge endpoint's job): it is one or
    more non-empty folder names separated by ``/``, optionally ending in ``/``. So ``""``, ``"/"``, ``"."``,
    ``"/pdf"``, ``"pdf//"`` and any ``.`` or ``..`` segment are refused: each either means the bucket's root or is
    ambiguous between a literal key and a relative path.
    """
    body = path[:-1] if path.endswith(FOLDER_SEPARATOR) else path
    if not body:
        raise ValueError("a path must name a folder; an empty path or '/' would mean the whole bucket")
    segments = body.split(FOLDER_SEPARATOR)
    if any(segment == "" for segment in segments):
        raise ValueError("a path must not start with '/' or contain empty folder names ('//')")
    if any(segment in (".", "..") for segment in segments):
        raise ValueError("a path must not contain '.' or '..' segments")
    prefix = body + FOLDER_SEPARATOR
    size = utf8_length(prefix)
    if size > MAX_KEY_BYTES:
        raise ValueError(f"a path is at most {MAX_KEY_BYTES - 1} bytes of UTF-8, this one is {size - 1}")
    return prefix


def fits_in_xml(key: str) -> bool:
    """Whether DeleteObjects' XML body can carry ``key`` unchanged."""
    return _NOT_XML_SAFE.search(key) is None
