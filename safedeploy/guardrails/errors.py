"""Why a deployment step stopped, as exceptions the CLI turns into distinct exit codes and the Lambdas into reasons."""

from __future__ import annotations

from safedeploy.errors import SafeDeployError


class GuardrailError(SafeDeployError):
    """A deployment step the guardrails stopped; the message says what happened and what to do."""


class PackageNotApproved(GuardrailError):
    """The model package is not Approved: only a person's decision approves a package, never a deploy."""


class PackageRolledBack(PackageNotApproved):
    """The package was rolled back on this platform; it is deployed again only on an operator's explicit override."""


class NotServedHere(PackageNotApproved):
    """The package's model data is not under the environment's own write-once `models/`: it could be replaced after
    it was verified, and SageMaker downloads it again whenever an instance starts."""


class DeploymentFailed(GuardrailError):
    """The endpoint did not end on the new configuration (auto-rollback, failure, timeout, conflicting state)."""


class MarkNotCleared(GuardrailError):
    """An overridden package went live but its rolled-back mark could not be cleared: it stays marked."""


class StepOutsideBand(GuardrailError):
    """The live (autoscaled) fleet makes a step sized in instances a share SageMaker refuses."""


class EndpointBusy(GuardrailError):
    """The endpoint is changing and the caller chose not to wait (a Lambda acts again on its next event)."""


class SmokeTestFailed(GuardrailError):
    """The live endpoint did not answer the health-check row with a prediction."""
