"""Every `safedeploy` exit code, in one place, so a CI job can tell "nobody approved this" from "this broke" from
"this job cannot reach AWS". The table in README.md ("Exit codes") is checked against this enum by a test.
"""

from __future__ import annotations

from enum import IntEnum

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

# Errors AWS answers when the caller's credentials are unusable, rather than when a request is wrong.
CREDENTIAL_ERROR_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"}
)


class ExitCode(IntEnum):
    OK = 0
    BAD_INPUT = 2
    NOT_APPROVED = 3
    ROLLED_BACK = 4
    NO_CREDENTIALS = 5
    AWS_ERROR = 6
    CHECKS_FAILED = 7
    VERDICT_CONTINUE = 10
    VERDICT_ROLLBACK = 20


MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "done (`analyze`: PROMOTE; `doctor`: every check passed or was skipped)",
    ExitCode.BAD_INPUT: "bad input or configuration: an argument, a missing SSM parameter, invalid settings",
    ExitCode.NOT_APPROVED: "refused: the model package is not Approved; nothing was deployed",
    ExitCode.ROLLED_BACK: "the deployment rolled back or failed, or the smoke test failed",
    ExitCode.NO_CREDENTIALS: "no usable AWS credentials, or no AWS region",
    ExitCode.AWS_ERROR: "an AWS call failed: permission denied, throttled, resource missing",
    ExitCode.CHECKS_FAILED: "`doctor`: at least one check failed",
    ExitCode.VERDICT_CONTINUE: "`analyze`: CONTINUE",
    ExitCode.VERDICT_ROLLBACK: "`analyze`: ROLLBACK",
}


def aws_exit_code(error: BotoCoreError | ClientError) -> ExitCode:
    """Missing or unusable credentials or region are the caller's setup, not a failed AWS call."""
    if isinstance(error, NoCredentialsError | PartialCredentialsError | NoRegionError | ProfileNotFound):
        return ExitCode.NO_CREDENTIALS
    if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in CREDENTIAL_ERROR_CODES:
        return ExitCode.NO_CREDENTIALS
    return ExitCode.AWS_ERROR
