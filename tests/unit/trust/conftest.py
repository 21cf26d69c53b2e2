"""The moto SageMaker fixture these tests share."""

from testbed.lambda_fakes import sagemaker  # noqa: F401  (a fixture, used by name)
