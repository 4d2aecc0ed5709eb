"""The receipts bucket's S3 calls: write-once parts, the summary, audit records, reads and pre-signed GET URLs.

The bucket belongs to the stage (template ``ReceiptsBucket``), not to a tenant: no ``ExpectedBucketOwner``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from eraser import aws

# How long a pre-signed URL of the receipt route stays valid.
PRESIGNED_SECONDS = 3600


class ReceiptStore:
    def __init__(self, bucket: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self._s3 = client or aws.receipts_s3()

    def put_once(self, key: str, body: bytes, content_type: str) -> bool:
        """Write ``key`` unless it exists: False when an earlier writer got there first (its bytes stay).
        ``If-None-Match: *`` makes the check and the write one atomic request (S3 answers 412, or 409 to a
        concurrent conditional write of the same key)."""
        try:
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, IfNoneMatch="*")
        except ClientError as error:
            if error.response["Error"]["Code"] in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
        return True

    def get(self, key: str) -> bytes | None:
        try:
            return bytes(self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise

    def presigned_get(self, key: str, expires_in: int = PRESIGNED_SECONDS) -> str:
        return str(self._s3.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key},
                                                   ExpiresIn=expires_in))
