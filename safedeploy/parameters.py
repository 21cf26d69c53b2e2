"""The SSM parameter layout shared by the stacks (which publish) and the runtime (which reads).

Runtime code never holds a bucket name or an ARN: it knows the project and environment and reads the rest from
`/<project>/<env>/<key>`. Keeping the keys in one place is what lets a test prove both sides agree.
"""

from __future__ import annotations

from enum import StrEnum


class Param(StrEnum):
    DATA_BUCKET = "data-bucket"
    ARTIFACTS_BUCKET = "artifacts-bucket"
    # The drift check's working bucket (the gateway's histograms, the check's state); no Object Lock.
    DRIFT_BUCKET = "drift-bucket"
    KMS_KEY_ARN = "kms-key-arn"
    MODEL_PACKAGE_GROUP = "model-package-group"
    SAGEMAKER_EXECUTION_ROLE_ARN = "sagemaker-execution-role-arn"
    ENDPOINT_NAME = "endpoint-name"
    FEATURE_GROUP_NAME = "feature-group-name"
    DEPLOYMENT_CONFIG = "deployment-config"
    PIPELINE_NAME = "pipeline-name"
    PIPELINE_SOURCE = "pipeline-source"
    GATEWAY_API_KEYS_TABLE = "gateway-api-keys-table"
    GATEWAY_FEEDBACK_TABLE = "gateway-feedback-table"
    # The model's request (safedeploy/serving_contract.py): the smoke tests send its health-check row.
    SERVING_CONTRACT = "serving-contract"


def parameter_name(project: str, env: str, key: Param | str) -> str:
    """Full SSM name of one parameter, e.g. ``/my-mlops/dev/data-bucket``."""
    return f"/{project}/{env}/{Param(key).value}"
