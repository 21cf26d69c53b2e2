"""Deployment guardrails: validated deployment settings and the SageMaker calls that deploy, shift and roll back.

`settings` is imported by the CDK app at synth, so this package's `__init__` imports nothing (no boto3 at synth).
"""
