"""Reading S3 objects that may not exist yet, without relying on S3's 404.

S3 answers a GET or HEAD of a missing key with 404 only to a caller that has s3:ListBucket on the bucket, and with
403 to any other (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html). Our roles may list only
under their own prefixes (an `s3:prefix` condition), and a GET carries no prefix, so a missing key would look like a
denial. Instead, existence is asked with a ListObjectsV2 whose prefix is the key itself, which those roles may make:
keys are listed in lexicographic order, so the key, if present, is the first one listed.
"""

from __future__ import annotations

from typing import Any


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    return bool(listed) and listed[0]["Key"] == key


def read_if_present(s3: Any, bucket: str, key: str) -> bytes | None:
    """The object's bytes, or None when no object has that key."""
    if not object_exists(s3, bucket, key):
        return None
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
