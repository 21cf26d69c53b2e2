"""The moto SageMaker fixture these tests share."""

from tests.support.lambda_fakes import sagemaker  # noqa: F401  (a fixture, used by name)
