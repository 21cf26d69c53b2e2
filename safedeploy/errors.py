"""The project's one error root: every failure it reports on purpose is a `SafeDeployError`, so a caller can tell
"the platform refused, and says why" from a bug (any other exception) with one `except`.

The families under it: `ConfigError` (a setting in cdk.json, SSM or an argument that cannot work), `InputError`
(a document, record or request handed in that cannot be used or done),
`safedeploy.guardrails.errors.GuardrailError` (a deployment step the guardrails stopped),
`safedeploy.cli.CliError` (a command line the CLI cannot act on), `safedeploy.cli.aws_errors.AwsError` (an AWS
call the CLI reports) and `BuildError` (something synth builds on this machine could not be built). Plain Python: the
Lambda layer, CodeBuild and the CDK app all import it.
"""

from __future__ import annotations


class SafeDeployError(Exception):
    """A failure the platform reports as one line that says what happened and what to do."""


class ConfigError(SafeDeployError, ValueError):
    """A configuration problem, as one line: `<key path>: <problem>`.

    Also a ValueError on purpose: pydantic turns a ValueError raised inside a validator into a validation error at
    the field's key path, so a rule shared by a settings model and plain code raises this one class in both.
    """


class InputError(SafeDeployError, ValueError):
    """What an operator or a pipeline handed in or asked for cannot be used or done, as one line: a document
    (release.json, an `analyze` file, a job's UserParameters, a drift baseline, a registry record) that is malformed
    or disagrees with what it must match, or a request the account's state refuses (nothing to roll back, no
    approval waiting).

    Also a ValueError, as ConfigError is: callers that refuse any bad value (a Lambda turning it into a failed job)
    keep one `except`; a plain ValueError is left to programming errors and the standard library's parse errors.
    """


class BuildError(SafeDeployError):
    """Something synth builds on this machine could not be built, as one line that says what it needed: the Lambda
    layer's wheels, installed from the package index once per change of their pins (infra/runtime_function.py)."""
