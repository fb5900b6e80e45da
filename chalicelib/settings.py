"""Typed settings: the only module that reads the environment.

`get()` returns the validated settings for the environment as it is now (tests and `chalice.test.Client` change
it between requests, so the result is cached per distinct environment, not once per process). `app.py` calls it
at import, so a deployed function with a missing or malformed setting fails at cold start with a message naming
the variable, instead of on some later request.

msgspec does the typing and the constraints: it validates in microseconds and imports in a few milliseconds,
where pydantic-settings alone costs as much as importing boto3 (about 150 ms measured), which a Lambda cold
start pays on every new container.
"""
from __future__ import annotations

import os
import re
from datetime import date
from typing import Annotated, Literal

import msgspec

LOCAL_STAGES = ("dev", "bench")
MIN_SECRET_LENGTH = 32
DEV_PARTICIPANT_HASH_KEY = "local-development-only-participant-hash-key"
DEV_CURSOR_KEY = "local-development-only-cursor-key"

# setting -> the environment variable(s) it is read from (the first one set wins)
SOURCES: dict[str, tuple[str, ...]] = {
    "stage": ("REFPAY_STAGE",),
    "participant_hash_key": ("REFPAY_PARTICIPANT_HASH_KEY",),
    "cursor_key": ("REFPAY_CURSOR_KEY",),
    "auth_cache_seconds": ("REFPAY_AUTH_CACHE_SECONDS",),
    "log_level": ("REFPAY_LOG_LEVEL",),
    "today": ("REFPAY_TODAY",),
    "claim_files_bucket": ("REFPAY_CLAIM_FILES_BUCKET",),
    "s3_endpoint": ("AWS_ENDPOINT_URL_S3",),
    "kms_key_id": ("REFPAY_KMS_KEY_ID",),
    "kms_endpoint": ("AWS_ENDPOINT_URL_KMS",),
    "region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "nightly_shard_function": ("REFPAY_NIGHTLY_SHARD_FUNCTION",),
    "claim_file_worker_function": ("REFPAY_CLAIM_FILE_WORKER_FUNCTION",),
    "lambda_function_name": ("AWS_LAMBDA_FUNCTION_NAME",),  # set by Lambda itself: we are deployed
    "tracing": ("REFPAY_TRACING",),
    "usage_plan_id": ("REFPAY_USAGE_PLAN_ID",),
}

Stage = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9-]{0,19}$")]


class SettingsError(RuntimeError):
    """A setting is missing or malformed: the message names the environment variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    stage: Stage = "dev"
    participant_hash_key: str | None = None
    cursor_key: str | None = None
    auth_cache_seconds: Annotated[int, msgspec.Meta(ge=0, le=300)] = 5
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    today: date | None = None  # pins "today" (tests, replays); never set in a deployed stage
    claim_files_bucket: str | None = None
    s3_endpoint: str | None = None
    kms_key_id: str | None = None  # the KMS key that encrypts personal fields (a local stage: moto's, by alias)
    kms_endpoint: str | None = None
    region: str = "eu-west-2"
    nightly_shard_function: str | None = None
    claim_file_worker_function: str | None = None
    lambda_function_name: str | None = None
    tracing: bool = False  # X-Ray traces of each invocation (the deployed template turns it on)
    usage_plan_id: str | None = None  # the stack's API usage plan (output UsagePlanId): each new key joins it

    @property
    def is_local(self) -> bool:
        return self.stage in LOCAL_STAGES

    def table_name(self, suffix: str) -> str:
        return f"refpay-{self.stage}-{suffix}"

    @property
    def bucket(self) -> str:
        return self.claim_files_bucket or f"refpay-{self.stage}-claim-files"

    @property
    def participant_key(self) -> bytes:
        """Secret key for the pseudonymous participant identifier (HMAC of the National Insurance number)."""
        return self._secret("participant_hash_key", DEV_PARTICIPANT_HASH_KEY)

    @property
    def cursor_secret(self) -> bytes:
        """Secret that signs pagination cursors so a caller cannot forge one."""
        return self._secret("cursor_key", DEV_CURSOR_KEY)

    def _secret(self, name: str, local_default: str) -> bytes:
        value = getattr(self, name)
        if value and len(value) >= MIN_SECRET_LENGTH:
            return str(value).encode()
        if self.is_local and not value:
            return local_default.encode()
        raise SettingsError(f"{SOURCES[name][0]} must be set to a secret of at least {MIN_SECRET_LENGTH} "
                            f"characters in stage {self.stage!r}")

    def require_usage_plan(self) -> str | None:
        """The usage plan new keys join: none in a local stage; in a deployed one it must be named, since a key
        outside the plan is refused by the gateway."""
        if self.usage_plan_id or self.is_local:
            return self.usage_plan_id
        raise SettingsError(f"REFPAY_USAGE_PLAN_ID must name the stack's usage plan (its output UsagePlanId) in "
                            f"stage {self.stage!r}: a key outside it is refused by the API")

    def require_deployable(self) -> Settings:
        """Every setting a deployed stage needs is present and sound (raises SettingsError naming it)."""
        for secret in (self.participant_key, self.cursor_secret):
            assert secret  # each property raises SettingsError when its secret is missing
        if not self.kms_key_id:
            raise SettingsError(f"REFPAY_KMS_KEY_ID must name the KMS key of personal fields in stage "
                                f"{self.stage!r}")
        return self


def _raw(environ: os._Environ[str] | dict[str, str]) -> dict[str, str]:
    out = {}
    for name, variables in SOURCES.items():
        value = next((environ[v] for v in variables if environ.get(v)), None)
        if value is not None:
            out[name] = value
    return out


def load(environ: os._Environ[str] | dict[str, str] | None = None) -> Settings:
    """Validate the settings in `environ` (default: the process environment). Raises SettingsError."""
    raw = _raw(os.environ if environ is None else environ)
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_name_the_variable(str(exc))) from None
    if not settings.is_local and settings.today is not None:
        raise SettingsError(f"REFPAY_TODAY pins the date and is for tests only; unset it in stage "
                            f"{settings.stage!r}")
    return settings


def _name_the_variable(message: str) -> str:
    match = re.search(r"`\$\.(\w+)`", message)
    if match and match.group(1) in SOURCES:
        variable = " or ".join(SOURCES[match.group(1)])
        return f"{variable}: {message.split(' - at ')[0]}"
    return message


_cache: dict[tuple[tuple[str, str], ...], Settings] = {}


def check_at_cold_start() -> Settings | None:
    """Validate the settings when running as a deployed function (a missing production secret stops the cold
    start, naming the variable). Tools that only import the app, such as `chalice package`, are not stopped."""
    current = get()
    return current.require_deployable() if current.lambda_function_name else None


def get() -> Settings:
    """The settings for the environment as it is now (validated once per distinct environment)."""
    raw = _raw(os.environ)
    key = tuple(sorted(raw.items()))
    settings = _cache.get(key)
    if settings is None:
        settings = load(os.environ)
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = settings
    return settings
