"""Shared CDK building blocks: configuration, naming, IAM policy builders, cdk-nag wiring."""
