"""The key that signs prediction ids, from Secrets Manager and never from a default baked into the image.

ECS's `secrets` deliver the value as `PREDICTION_ID_SECRET`; outside ECS the gateway can fetch it itself from
`PREDICTION_ID_SECRET_ARN`. Every task must hold the same key, or feedback that lands on another task than its
prediction would be refused; a random per-process key is therefore never a fallback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from safedeploy.errors import ConfigError

from .settings import flag

MIN_SECRET_LENGTH = 32
# Only with ALLOW_DEV_SECRET=true, for a laptop or a test; it is public, so ids signed with it prove nothing.
DEV_SECRET = "development-only-prediction-id-secret-not-for-production"

logger = logging.getLogger(__name__)

SecretFetcher = Callable[[str, str], str]


def fetch_from_secrets_manager(secret_id: str, region: str) -> str:
    import boto3  # only this start-up path needs the SDK's Secrets Manager client
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=secret_id)
    except (BotoCoreError, ClientError) as error:
        raise ConfigError(f"cannot read PREDICTION_ID_SECRET_ARN {secret_id}: {error}") from error
    if "SecretString" not in response:
        raise ConfigError(f"secret {secret_id} holds binary data; store the signing key as a string")
    return str(response["SecretString"])


def resolve_signing_secret(
    env: Mapping[str, str], region: str, fetch: SecretFetcher = fetch_from_secrets_manager
) -> bytes:
    secret = env.get("PREDICTION_ID_SECRET", "")
    source = "PREDICTION_ID_SECRET"
    if not secret and env.get("PREDICTION_ID_SECRET_ARN", "").strip():
        source = env["PREDICTION_ID_SECRET_ARN"].strip()
        secret = fetch(source, region)
    if not secret:
        if not flag(env, "ALLOW_DEV_SECRET"):
            raise ConfigError(
                "no prediction-id signing secret: set PREDICTION_ID_SECRET (ECS secret) or PREDICTION_ID_SECRET_ARN, "
                "or ALLOW_DEV_SECRET=true outside production"
            )
        logger.warning("signing prediction ids with the public development secret (ALLOW_DEV_SECRET=true)")
        secret = DEV_SECRET
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(f"the secret from {source} has {len(secret)} characters; at least {MIN_SECRET_LENGTH}")
    return secret.encode()
