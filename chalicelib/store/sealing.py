"""Encryption at rest of a participant's personal fields: envelope encryption under a KMS key.

The AWS Encryption SDK seals the fields as one message per referral: a data key from KMS (GenerateDataKey)
encrypts them with AES-256-GCM (key commitment, no signature: the functions that write are the ones that read),
and the message carries that data key encrypted under the KMS key, so only a caller allowed to use the key
(kms:Decrypt) can open it. A cache of data keys (at most five minutes old, at most 10,000 messages each) keeps
KMS off most requests of a warm container.

The referral's id is sealed inside the message and checked on opening: a sealed value copied onto another
referral does not open there. (It is not in the encryption context, which would make every referral's data key
its own and defeat the cache.)

The key: REFPAY_KMS_KEY_ID (the deployed template passes the key's ARN); a local stage uses the alias that
`create_local_key` makes in moto's KMS (tests, the local run).
"""
from __future__ import annotations

import json
import threading
from functools import lru_cache
from typing import Any

from .. import settings

ENCRYPTION_CONTEXT = {"purpose": "refpay-personal-fields", "version": "1"}
CACHE_MAX_AGE_SECONDS = 300.0
CACHE_MAX_MESSAGES = 10_000
_setting_up = threading.Lock()  # boto3's default session is not safe to make clients from in parallel


class SealError(RuntimeError):
    """A sealed value that does not open (wrong key, altered, or not this referral's)."""


def local_alias(stage: str) -> str:
    return f"alias/refpay-{stage}-personal-data"


def key_id() -> str:
    configured = settings.get().kms_key_id
    if configured:
        return configured
    current = settings.get()
    if not current.is_local:
        raise settings.SettingsError(f"REFPAY_KMS_KEY_ID must name the personal-data KMS key in stage "
                                     f"{current.stage!r}")
    return local_alias(current.stage)


@lru_cache(maxsize=8)
def _key_arn(key: str, endpoint: str | None) -> str:
    """The key's ARN (the strict key provider opens only messages whose data key names an ARN it knows)."""
    if key.startswith("arn:"):
        return key
    import boto3

    return str(boto3.client("kms", region_name=settings.get().region).describe_key(KeyId=key)["KeyMetadata"]["Arn"])


@lru_cache(maxsize=8)
def _materials(arn: str, endpoint: str | None) -> tuple[Any, Any]:
    import aws_encryption_sdk
    from aws_encryption_sdk.identifiers import CommitmentPolicy

    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[arn])
    manager = aws_encryption_sdk.CachingCryptoMaterialsManager(
        master_key_provider=provider, cache=aws_encryption_sdk.LocalCryptoMaterialsCache(capacity=64),
        max_age=CACHE_MAX_AGE_SECONDS, max_messages_encrypted=CACHE_MAX_MESSAGES)
    return client, manager


def _current() -> tuple[Any, Any]:
    endpoint = settings.get().kms_endpoint
    with _setting_up:
        return _materials(_key_arn(key_id(), endpoint), endpoint)


def seal(owner_id: str, fields: dict[str, Any]) -> bytes:
    """The fields, encrypted, bound to `owner_id` (a referral's id)."""
    from aws_encryption_sdk.identifiers import Algorithm

    client, manager = _current()
    plaintext = json.dumps({"owner": owner_id, "fields": fields}, separators=(",", ":")).encode()
    ciphertext, _ = client.encrypt(source=plaintext, materials_manager=manager,
                                   encryption_context=ENCRYPTION_CONTEXT,
                                   algorithm=Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY)
    return bytes(ciphertext)


def open_sealed(owner_id: str, sealed: bytes) -> dict[str, Any]:
    """The fields `seal(owner_id, ...)` sealed; SealError for anything else."""
    from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError
    from cryptography.exceptions import InvalidTag

    client, manager = _current()
    try:
        plaintext, header = client.decrypt(source=sealed, materials_manager=manager)
    except (AWSEncryptionSDKClientError, InvalidTag) as exc:
        raise SealError(f"personal fields of {owner_id} do not open: {type(exc).__name__}") from None
    context = dict(header.encryption_context)
    if any(context.get(k) != v for k, v in ENCRYPTION_CONTEXT.items()):
        raise SealError(f"personal fields of {owner_id} were sealed for another purpose")
    message = json.loads(plaintext)
    if message.get("owner") != owner_id:
        raise SealError(f"personal fields sealed for another record were found on {owner_id}")
    return dict(message["fields"])


def forget_data_keys() -> None:
    """Drop the cached data keys (as a new container starts without them)."""
    _materials.cache_clear()


def create_local_key(stage: str) -> str:
    """A symmetric KMS key and its alias, for the tests and the local run (moto's KMS); deployments create the key
    from infra/. Returns the alias."""
    import boto3

    client = boto3.client("kms", region_name=settings.get().region)
    alias = local_alias(stage)
    existing = {a["AliasName"] for a in client.list_aliases().get("Aliases", [])}
    if alias not in existing:
        key = client.create_key(Description=f"refpay {stage} personal fields (local)", KeyUsage="ENCRYPT_DECRYPT")
        client.create_alias(AliasName=alias, TargetKeyId=key["KeyMetadata"]["KeyId"])
    _key_arn.cache_clear()
    forget_data_keys()
    return alias
