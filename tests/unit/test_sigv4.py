"""SigV4 verification against AWS's published examples and botocore's own signers.

The vectors are AWS's: the signing-key derivation example of the IAM user guide ("Examples of how to derive a signing
key", secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830, us-east-1, iam), the get-vanilla,
get-vanilla-query-order-key-case and post-vanilla cases of AWS's "aws-sig-v4-test-suite", and the four examples of
the Amazon S3 API Reference ("Signature Calculations for the Authorization Header: Transferring Payload in a Single
Chunk" and "Authenticating Requests: Using Query Parameters"): GET Object with a Range header, PUT Object, GET Bucket
(ListObjects) and a pre-signed GET. Only the inputs and the published results are written here.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from eraser import errors, sigv4
from eraser.sigv4 import SignedRequest

SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
S3_EXAMPLE_KEY = "AKIAIOSFODNN7EXAMPLE"
S3_EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
S3_EXAMPLE_TIME = datetime(2013, 5, 24, tzinfo=UTC)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def secrets_of(known: dict[str, str]):
    return known.get


def request(method: str, path: str, headers: dict[str, str], query: list[tuple[str, str]] | None = None,
            body: bytes = b"") -> SignedRequest:
    return SignedRequest(method=method, canonical_uris=(path,), query=tuple(query or ()),
                         headers={name.lower(): (value,) for name, value in headers.items()}, body=body)


def test_signing_key_derivation_matches_the_documented_example() -> None:
    key = sigv4.signing_key(SUITE_SECRET, "20150830", "us-east-1", "iam")
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"


@pytest.mark.parametrize(("method", "query", "expected"), [
    ("GET", [], "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("GET", [("Param2", "value2"), ("Param1", "value1")],
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ("POST", [], "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
])
def test_canonical_request_and_signature_match_the_test_suite(method: str, query: list[tuple[str, str]],
                                                              expected: str) -> None:
    headers = {"host": ("example.amazonaws.com",), "x-amz-date": ("20150830T123600Z",)}
    text = sigv4.canonical_request(method, "/", sigv4.canonical_query(query), headers, ["host", "x-amz-date"],
                                   EMPTY_SHA256)
    credential = sigv4.Credential("AKIDEXAMPLE", "20150830", "us-east-1", "service", "aws4_request")
    assert sigv4.sign(SUITE_SECRET, credential, "20150830T123600Z", text) == expected


def s3_get_object_example() -> SignedRequest:
    return request("GET", "/test.txt", {
        "Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9", "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
        "Authorization": f"AWS4-HMAC-SHA256 Credential={S3_EXAMPLE_KEY}/20130524/us-east-1/s3/aws4_request,"
                         "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                         "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"})


def test_the_s3_get_object_example_verifies() -> None:
    verified = sigv4.verify(s3_get_object_example(), secrets_of({S3_EXAMPLE_KEY: S3_EXAMPLE_SECRET}),
                            region="us-east-1", now=S3_EXAMPLE_TIME)
    assert verified == S3_EXAMPLE_KEY


def test_the_s3_put_object_example_verifies_with_its_payload_hash() -> None:
    body = b"Welcome to Amazon S3."
    example = request("PUT", "/test%24file.text", {
        "Host": "examplebucket.s3.amazonaws.com", "Date": "Fri, 24 May 2013 00:00:00 GMT",
        "x-amz-date": "20130524T000000Z", "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        "Authorization": f"AWS4-HMAC-SHA256 Credential={S3_EXAMPLE_KEY}/20130524/us-east-1/s3/aws4_request,"
                         "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
                         "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"}, body=body)
    secrets = secrets_of({S3_EXAMPLE_KEY: S3_EXAMPLE_SECRET})
    assert sigv4.verify(example, secrets, region="us-east-1", now=S3_EXAMPLE_TIME) == S3_EXAMPLE_KEY
    tampered = SignedRequest(example.method, example.canonical_uris, example.query, example.headers,
                             body=b"Welcome to Amazon S4.")
    with pytest.raises(errors.ContentSha256Mismatch):
        sigv4.verify(tampered, secrets, region="us-east-1", now=S3_EXAMPLE_TIME)


def test_the_s3_list_objects_example_verifies_with_its_query() -> None:
    example = request("GET", "/", {
        "Host": "examplebucket.s3.amazonaws.com", "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
        "Authorization": f"AWS4-HMAC-SHA256 Credential={S3_EXAMPLE_KEY}/20130524/us-east-1/s3/aws4_request,"
                         "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
                         "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
        query=[("max-keys", "2"), ("prefix", "J")])
    assert sigv4.verify(example, secrets_of({S3_EXAMPLE_KEY: S3_EXAMPLE_SECRET}), region="us-east-1",
                        now=S3_EXAMPLE_TIME) == S3_EXAMPLE_KEY


def s3_presigned_example() -> SignedRequest:
    return request("GET", "/test.txt", {"Host": "examplebucket.s3.amazonaws.com"}, query=[
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", f"{S3_EXAMPLE_KEY}/20130524/us-east-1/s3/aws4_request"),
        ("X-Amz-Date", "20130524T000000Z"), ("X-Amz-Expires", "86400"), ("X-Amz-SignedHeaders", "host"),
        ("X-Amz-Signature", "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")])


def test_the_s3_presigned_url_example_verifies_until_it_expires() -> None:
    secrets = secrets_of({S3_EXAMPLE_KEY: S3_EXAMPLE_SECRET})
    example = s3_presigned_example()
    assert sigv4.verify(example, secrets, region="us-east-1", now=S3_EXAMPLE_TIME + timedelta(hours=23))
    with pytest.raises(errors.SignatureAccessDenied, match="expired"):
        sigv4.verify(example, secrets, region="us-east-1", now=S3_EXAMPLE_TIME + timedelta(hours=24, seconds=1))


def test_a_wrong_secret_does_not_match() -> None:
    with pytest.raises(errors.SignatureDoesNotMatch):
        sigv4.verify(s3_get_object_example(), secrets_of({S3_EXAMPLE_KEY: S3_EXAMPLE_SECRET + "x"}),
                     region="us-east-1", now=S3_EXAMPLE_TIME)


def test_an_unknown_access_key_is_an_invalid_credential() -> None:
    with pytest.raises(errors.InvalidCredentials):
        sigv4.verify(s3_get_object_example(), secrets_of({}), region="us-east-1", now=S3_EXAMPLE_TIME)


@pytest.mark.parametrize("offset", [timedelta(minutes=16), -timedelta(minutes=16)])
def test_a_request_time_more_than_15_minutes_away_is_too_skewed(offset: timedelta) -> None:
    with pytest.raises(errors.RequestTimeTooSkewed):
        sigv4.verify(s3_get_object_example(), secrets_of({S3_EXAMPLE_KEY: S3_EXAMPLE_SECRET}), region="us-east-1",
                     now=S3_EXAMPLE_TIME + offset)


def test_a_request_14_minutes_away_is_within_the_skew() -> None:
    assert sigv4.verify(s3_get_object_example(), secrets_of({S3_EXAMPLE_KEY: S3_EXAMPLE_SECRET}),
                        region="us-east-1", now=S3_EXAMPLE_TIME - timedelta(minutes=14))


def test_a_scope_of_another_region_is_malformed() -> None:
    with pytest.raises(errors.AuthorizationHeaderMalformed, match="eu-west-1"):
        sigv4.verify(s3_get_object_example(), secrets_of({S3_EXAMPLE_KEY: S3_EXAMPLE_SECRET}), region="eu-west-1",
                     now=S3_EXAMPLE_TIME)


# --- botocore's signers ------------------------------------------------------------------------------------------
ACCESS_KEY = "EKTESTACCESSKEY00001"
SECRET = "botocore-test-secret/with+odd=chars"
BASE = "http://127.0.0.1:3000/s3"


def from_botocore(prepared: AWSRequest) -> SignedRequest:
    url = urlsplit(prepared.url)
    headers: dict[str, tuple[str, ...]] = {}
    for name, value in prepared.headers.items():
        headers[name.lower()] = (*headers.get(name.lower(), ()), value if isinstance(value, str) else value.decode())
    # The HTTP client sends Host from the URL; botocore signs the same value.
    headers.setdefault("host", (url.netloc,))
    body = prepared.body or b""
    return SignedRequest(method=prepared.method, canonical_uris=(url.path,),
                         query=tuple(parse_qsl(url.query, keep_blank_values=True)), headers=headers,
                         body=body.encode() if isinstance(body, str) else body)


def signed_by_botocore(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None,
                       secret: str = SECRET) -> SignedRequest:
    aws_request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    S3SigV4Auth(Credentials(ACCESS_KEY, secret), "s3", "us-east-1").add_auth(aws_request)
    return from_botocore(aws_request)


def presigned_by_botocore(method: str, url: str, expires: int = 3600) -> SignedRequest:
    aws_request = AWSRequest(method=method, url=url)
    S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET), "s3", "us-east-1", expires=expires).add_auth(aws_request)
    return from_botocore(aws_request)


def verify_now(signed: SignedRequest) -> str:
    return sigv4.verify(signed, secrets_of({ACCESS_KEY: SECRET}), region="us-east-1")


def tamper(signed: SignedRequest, **changes: object) -> SignedRequest:
    fields = {"method": signed.method, "canonical_uris": signed.canonical_uris, "query": signed.query,
              "headers": signed.headers, "body": signed.body, **changes}
    return SignedRequest(**fields)  # type: ignore[arg-type]


def test_botocore_header_signature_of_a_delete_with_an_odd_key_verifies() -> None:
    signed = signed_by_botocore("DELETE", f"{BASE}/photos/a%20b/%C3%BC%2Bplus%3D%2A~.txt?versionId=3%2F4")
    assert verify_now(signed) == ACCESS_KEY


def test_one_byte_changed_in_the_path_is_refused() -> None:
    signed = signed_by_botocore("DELETE", f"{BASE}/photos/cat.jpg")
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify_now(tamper(signed, canonical_uris=("/s3/photos/cat.jph",)))


def test_one_byte_changed_in_the_query_is_refused() -> None:
    signed = signed_by_botocore("DELETE", f"{BASE}/photos/cat.jpg?versionId=abc")
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify_now(tamper(signed, query=(("versionId", "abd"),)))


def test_a_changed_method_is_refused() -> None:
    signed = signed_by_botocore("GET", f"{BASE}/photos/cat.jpg")
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify_now(tamper(signed, method="DELETE"))


def test_botocore_signed_body_verifies_and_a_changed_byte_is_refused() -> None:
    body = b"<Delete><Object><Key>a</Key></Object></Delete>"
    signed = signed_by_botocore("POST", f"{BASE}/photos?delete", body=body)
    assert verify_now(signed) == ACCESS_KEY
    with pytest.raises(errors.ContentSha256Mismatch):
        verify_now(tamper(signed, body=body.replace(b"a", b"b")))


def test_a_changed_signed_header_is_refused() -> None:
    signed = signed_by_botocore("DELETE", f"{BASE}/photos/cat.jpg", headers={"x-amz-mfa": "123 456"})
    headers = dict(signed.headers)
    headers["x-amz-mfa"] = ("123 457",)
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify_now(tamper(signed, headers=headers))


@pytest.mark.parametrize("signature", ["f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb4\u00e9",
                                       "\ud800" * 64])
def test_a_signature_that_is_not_ascii_does_not_match(signature: str) -> None:
    # hmac.compare_digest refuses str that is not ASCII with a TypeError (a 500 had it reached the handler).
    example = s3_get_object_example()
    authorization = example.header("authorization") or ""
    headers = {**example.headers,
               "authorization": (authorization.rsplit("Signature=", 1)[0] + "Signature=" + signature,)}
    with pytest.raises(errors.SignatureDoesNotMatch):
        sigv4.verify(tamper(example, headers=headers), secrets_of({S3_EXAMPLE_KEY: S3_EXAMPLE_SECRET}),
                     region="us-east-1", now=S3_EXAMPLE_TIME)


def test_a_signed_header_holding_a_lone_surrogate_does_not_match() -> None:
    # An API Gateway event's JSON may carry one (\ud800); UTF-8 cannot encode it (a UnicodeEncodeError, a 500).
    signed = signed_by_botocore("DELETE", f"{BASE}/photos/cat.jpg", headers={"x-amz-mfa": "123 456"})
    headers = {**signed.headers, "x-amz-mfa": ("123 \ud800",)}
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify_now(tamper(signed, headers=headers))


def test_an_unsigned_amz_header_is_refused() -> None:
    signed = signed_by_botocore("DELETE", f"{BASE}/photos/cat.jpg")
    headers = {**signed.headers, "x-amz-bypass-governance-retention": ("true",)}
    with pytest.raises(errors.SignatureAccessDenied, match="not signed"):
        verify_now(tamper(signed, headers=headers))


def test_botocore_presigned_url_verifies_and_a_changed_expiry_is_refused() -> None:
    signed = presigned_by_botocore("DELETE", f"{BASE}/photos/cat.jpg")
    assert verify_now(signed) == ACCESS_KEY
    query = tuple((name, "7200" if name == "X-Amz-Expires" else value) for name, value in signed.query)
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify_now(tamper(signed, query=query))


def test_a_stage_prefixed_path_verifies_when_it_is_one_of_the_candidates() -> None:
    signed = signed_by_botocore("DELETE", "https://api.example.com/prod/s3/photos/cat.jpg")
    assert verify_now(tamper(signed, canonical_uris=("/s3/photos/cat.jpg", "/prod/s3/photos/cat.jpg")))


class StreamingSigner(S3SigV4Auth):
    """botocore's signer with the seed signature of an aws-chunked upload (what SDKs send for chunked PUTs)."""

    def payload(self, request: AWSRequest) -> str:
        return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


def test_a_streaming_payload_with_a_valid_seed_signature_is_not_implemented() -> None:
    aws_request = AWSRequest(method="POST", url=f"{BASE}/photos?delete", data=b"0;chunk-signature=00\r\n\r\n")
    StreamingSigner(Credentials(ACCESS_KEY, SECRET), "s3", "us-east-1").add_auth(aws_request)
    signed = from_botocore(aws_request)
    assert signed.header("x-amz-content-sha256") == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    with pytest.raises(errors.OperationNotImplemented):
        verify_now(signed)


def test_a_header_signed_request_without_a_payload_hash_is_invalid() -> None:
    signed = signed_by_botocore("DELETE", f"{BASE}/photos/cat.jpg")
    headers = {name: value for name, value in signed.headers.items() if name != "x-amz-content-sha256"}
    with pytest.raises(errors.ValidationFailed, match="x-amz-content-sha256"):
        verify_now(tamper(signed, headers=headers))


@pytest.mark.parametrize("authorization", [
    "AWS4-HMAC-SHA256 garbage",
    "AWS4-HMAC-SHA256 Credential=EK/20260101/us-east-1/s3, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 Credential=EK/20260101/us-east-1/s3/aws4_request, Signature=00",
])
def test_a_malformed_authorization_header_is_refused(authorization: str) -> None:
    signed = signed_by_botocore("DELETE", f"{BASE}/photos/cat.jpg")
    with pytest.raises(errors.AuthorizationHeaderMalformed):
        verify_now(tamper(signed, headers={**signed.headers, "authorization": (authorization,)}))


@pytest.mark.parametrize("expires", ["0", "604801", "soon"])
def test_a_presigned_expiry_outside_1_to_604800_seconds_is_refused(expires: str) -> None:
    signed = presigned_by_botocore("DELETE", f"{BASE}/photos/cat.jpg")
    query = tuple((name, expires if name == "X-Amz-Expires" else value) for name, value in signed.query)
    with pytest.raises(errors.AuthorizationQueryParametersError):
        verify_now(tamper(signed, query=query))
