"""Claim files in S3. The client is created once per container, lazily."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, BinaryIO

from .. import settings


def bucket() -> str:
    return settings.get().bucket


@lru_cache(maxsize=4)
def _client(endpoint: str | None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, config=Config(signature_version="s3v4"))


def client() -> Any:
    return _client(settings.get().s3_endpoint)


def upload(key: str, fileobj: BinaryIO) -> None:
    """One PUT streamed from the (spooled) file: botocore reads it in chunks of 1 MiB to checksum and send it, so
    the file's size never shows in the worker's memory (a managed multipart upload reads parts of 8 MiB into
    memory, up to ten ahead). A single PUT takes up to 5 GB: a million-line file is about 300 MiB."""
    client().put_object(Bucket=bucket(), Key=key, Body=fileobj, ContentType="text/csv",
                        ServerSideEncryption="AES256")


def download_url(key: str, expires_in: int) -> str:
    return client().generate_presigned_url("get_object", Params={"Bucket": bucket(), "Key": key},
                                           ExpiresIn=expires_in)


def create_bucket() -> None:
    """For the local run and the tests (deployments create the bucket from infra/)."""
    region = settings.get().region
    try:
        client().create_bucket(Bucket=bucket(), CreateBucketConfiguration={"LocationConstraint": region})
    except client().exceptions.BucketAlreadyOwnedByYou:
        pass
