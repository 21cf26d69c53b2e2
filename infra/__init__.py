"""Shared CDK building blocks: configuration, naming, IAM policy builders, cdk-nag wiring.

Importing the package explains jsii's Node.js banner in one line before any `aws_cdk` import starts it
(`infra/jsii_node.py`).
"""

from infra.jsii_node import quiet_banner

quiet_banner()
