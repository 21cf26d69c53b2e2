"""AWS errors as one line an operator can act on, instead of a botocore traceback."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, ProfileNotFound
from botocore.parsers import ResponseParserError

from safedeploy.cli.exit_codes import CREDENTIAL_ERROR_CODES, ExitCode, aws_exit_code
from safedeploy.errors import SafeDeployError

THROTTLING = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"})
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
# What botocore raises for a call that did not succeed: a refused request, no network or credentials, a foreign answer.
AWS_FAILURES = (BotoCoreError, ClientError, ResponseParserError)


class AwsError(SafeDeployError):
    """An AWS call the CLI reports: botocore's error as the one line below, with the exit code its kind earns."""

    def __init__(self, error: BotoCoreError | ClientError | ResponseParserError) -> None:
        super().__init__(one_line(error))
        self.exit_code: ExitCode = aws_exit_code(error)


def one_line(error: BotoCoreError | ClientError | ResponseParserError) -> str:
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials found: set AWS_PROFILE (or --profile) or run `aws configure`"
    if isinstance(error, NoRegionError):
        return (
            "no AWS region: pass --region, run from the directory of the cdk.json that names --env, or set AWS_REGION"
        )
    if isinstance(error, ProfileNotFound):
        return f"AWS profile {error.kwargs.get('profile')!r} not found in the AWS config files"
    if isinstance(error, ResponseParserError):
        first = str(error).splitlines()[0].split(". Further retries")[0].rstrip(" :.")[:160]
        return f"unreadable AWS response: {first}: check AWS_ENDPOINT_URL, proxy, --region"
    if type(error).__name__ == "ForeignResponse":  # defined beside the session that detects it
        return f"unreadable AWS response: {error}"
    if not isinstance(error, ClientError):
        return f"AWS unreachable: {error}"
    details = error.response.get("Error", {})
    code, message = str(details.get("Code", "")), str(details.get("Message", ""))
    operation = error.operation_name
    if code in CREDENTIAL_ERROR_CODES:
        return f"AWS rejected the credentials ({code}): refresh them (e.g. `aws sso login`) or set AWS_PROFILE"
    if code in DENIED:
        return f"missing permission for {operation}: {message}"
    if code in THROTTLING:
        return f"AWS throttled {operation}; retry in a moment"
    if "Could not find endpoint" in message:
        return f"endpoint not found ({operation}): has a model been deployed to this environment yet?"
    if code == "ParameterNotFound":
        return f"SSM parameter not found ({operation}): are this environment's stacks deployed, and --env right?"
    return f"{operation} failed: {code}: {message}"
