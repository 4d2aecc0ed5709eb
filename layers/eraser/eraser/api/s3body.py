"""DeleteObjects' request body: its integrity (``Content-MD5`` or an ``x-amz-checksum-*`` header) and its XML.

S3 requires one of the two for DeleteObjects. botocore 1.36 and later sends a CRC32 checksum
(``x-amz-checksum-crc32`` with ``x-amz-sdk-checksum-algorithm: CRC32``) instead of MD5; other SDKs may choose CRC32C,
SHA1, SHA256 or CRC64NVME. Each is the base64 of the big-endian digest of the body as received.

The XML is read with expat directly and a document type declaration is refused outright: without one no entity can be
declared, so no entity expansion (billion laughs, quadratic blow-up) and no external entity can happen. Anything that is
not S3's ``<Delete>`` document is ``MalformedXML``, as S3 answers it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NoReturn
from xml.parsers import expat

from eraser.errors import BadDigest, InvalidDigest, MalformedXML, MissingRequestBody, ValidationFailed
from eraser.storage.keys import DELETE_OBJECTS_MAX_KEYS

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
CHECKSUM_HEADER_PREFIX = "x-amz-checksum-"
SDK_CHECKSUM_ALGORITHM = "x-amz-sdk-checksum-algorithm"
MISSING_INTEGRITY = "Missing required header for this request: Content-MD5 or x-amz-checksum-*"


def _reflected_crc_table(polynomial: int) -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ polynomial if crc & 1 else crc >> 1
        table.append(crc)
    return table


# Neither has a standard-library implementation (botocore computes them only with awscrt installed).
_CRC32C_TABLE = _reflected_crc_table(0x82F63B78)
_CRC64NVME_TABLE = _reflected_crc_table(0x9A6C9329AC4BC9B5)


def _reflected_crc(data: bytes, table: list[int], mask: int) -> int:
    crc = mask
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ mask


def crc32c(data: bytes) -> bytes:
    return _reflected_crc(data, _CRC32C_TABLE, 0xFFFFFFFF).to_bytes(4, "big")


def crc64nvme(data: bytes) -> bytes:
    return _reflected_crc(data, _CRC64NVME_TABLE, 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")


CHECKSUMS: dict[str, Callable[[bytes], bytes]] = {
    "crc32": lambda data: zlib.crc32(data).to_bytes(4, "big"),
    "crc32c": crc32c,
    "crc64nvme": crc64nvme,
    "sha1": lambda data: hashlib.sha1(data).digest(),  # noqa: S324 - S3's checksum, not a security measure
    "sha256": lambda data: hashlib.sha256(data).digest(),
}


def _decoded_digest(value: str, size: int, header: str) -> bytes:
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != size:
        raise InvalidDigest(f"The {header} you specified was invalid.")
    return digest


def verify_integrity(body: bytes, headers: Mapping[str, str]) -> None:
    """Refuse a body whose ``Content-MD5`` or ``x-amz-checksum-*`` header is missing (``InvalidRequest``), not a
    digest (``InvalidDigest``) or not the body's (``BadDigest``). Every integrity header given is checked."""
    checked = False
    if "content-md5" in headers:
        expected = _decoded_digest(headers["content-md5"], 16, "Content-MD5")
        if hashlib.md5(body).digest() != expected:  # noqa: S324 - S3's integrity check, not a security measure
            raise BadDigest("The Content-MD5 you specified did not match what we received.")
        checked = True
    named = headers.get(SDK_CHECKSUM_ALGORITHM, "").strip().lower()
    if named and named not in CHECKSUMS:
        raise ValidationFailed(f"Checksum algorithm '{named}' is not supported")
    for name, value in headers.items():
        if not name.startswith(CHECKSUM_HEADER_PREFIX) or name == "x-amz-checksum-type":
            continue
        algorithm = name.removeprefix(CHECKSUM_HEADER_PREFIX)
        if algorithm not in CHECKSUMS:
            raise ValidationFailed(f"Checksum algorithm '{algorithm}' is not supported")
        compute = CHECKSUMS[algorithm]
        expected = _decoded_digest(value, len(compute(b"")), name)
        if compute(body) != expected:
            raise BadDigest(f"The {algorithm.upper()} you specified did not match the calculated checksum.")
        checked = True
    if named and f"{CHECKSUM_HEADER_PREFIX}{named}" not in headers:
        # The SDK said which checksum it computed but the header carrying it is not here (a trailer is only for
        # aws-chunked bodies, which this route does not take).
        raise ValidationFailed(f"x-amz-sdk-checksum-algorithm is {named.upper()} but x-amz-checksum-{named} is missing")
    if not checked:
        raise ValidationFailed(MISSING_INTEGRITY)


# --- the XML ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeleteEntry:
    key: str
    version_id: str | None = None
    # S3's per-object conditions (ETag, LastModifiedTime, Size): present means the caller made the delete conditional.
    conditional: bool = False


@dataclass
class DeleteDocument:
    entries: list[DeleteEntry] = field(default_factory=list)
    quiet: bool = False


_OBJECT_FIELDS = {"Key", "VersionId", "ETag", "LastModifiedTime", "Size"}
_CONDITION_FIELDS = {"ETag", "LastModifiedTime", "Size"}


class _DeleteParser:
    """A streaming reader of ``<Delete><Object><Key/><VersionId/></Object>...<Quiet/></Delete>``."""

    def __init__(self) -> None:
        self.document = DeleteDocument()
        self._path: list[str] = []
        self._text: list[str] = []
        self._object: dict[str, str] = {}
        self._quiet_seen = False

    def start(self, name: str, attributes: dict[str, str]) -> None:
        local = _local_name(name)
        depth = len(self._path)
        allowed = {0: {"Delete"}, 1: {"Object", "Quiet"}, 2: _OBJECT_FIELDS if self._path[1:] == ["Object"] else set()}
        if local not in allowed.get(depth, set()):
            raise MalformedXML()
        if depth == 2 and local in self._object:
            raise MalformedXML()
        if depth == 1 and local == "Object" and len(self.document.entries) >= DELETE_OBJECTS_MAX_KEYS:
            # S3 refuses more than 1,000 objects; moto accepts them, so the limit is enforced here.
            raise MalformedXML()
        self._path.append(local)
        self._text = []

    def end(self, name: str) -> None:
        local = self._path.pop()
        text = "".join(self._text)
        self._text = []
        if len(self._path) == 2:
            self._object[local] = text
        elif local == "Object":
            if "Key" not in self._object:
                raise MalformedXML()
            self.document.entries.append(DeleteEntry(
                key=self._object["Key"], version_id=self._object.get("VersionId"),
                conditional=bool(_CONDITION_FIELDS & set(self._object))))
            self._object = {}
        elif local == "Quiet":
            if self._quiet_seen or text.strip().lower() not in ("true", "false"):
                raise MalformedXML()
            self._quiet_seen = True
            self.document.quiet = text.strip().lower() == "true"

    def text(self, data: str) -> None:
        if len(self._path) == 3 or self._path[-1:] == ["Quiet"]:
            self._text.append(data)
        elif data.strip():
            raise MalformedXML()


def _local_name(name: str) -> str:
    namespace, _, local = name.rpartition(" ")
    if namespace and namespace != S3_NAMESPACE:
        raise MalformedXML()
    return local


def _refuse(*_: object) -> NoReturn:
    raise MalformedXML()


def parse_delete_document(body: bytes) -> DeleteDocument:
    """The entries and Quiet flag of a DeleteObjects body; ``MissingRequestBody`` for an empty one, ``MalformedXML``
    for anything else that is not S3's document (a DOCTYPE, more than 1,000 objects, no object at all)."""
    if not body.strip():
        raise MissingRequestBody()
    reader = _DeleteParser()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    try:
        parser.Parse(body, True)
    except expat.ExpatError as error:
        raise MalformedXML() from error
    if not reader.document.entries:
        raise MalformedXML()
    return reader.document


def read_delete_document(body: bytes, headers: Mapping[str, str]) -> DeleteDocument:
    """The DeleteObjects body, in S3's order of refusals: empty, then its integrity, then its XML."""
    if not body.strip():
        raise MissingRequestBody()
    verify_integrity(body, headers)
    return parse_delete_document(body)
