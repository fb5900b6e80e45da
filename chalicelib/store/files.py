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
    client().upload_fileobj(fileobj, bucket(), key, ExtraArgs={"ContentType": "text/csv",
                                                                "ServerSideEncryption": "AES256"})


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
