"""CloudWatch's names for the canary's metrics: namespaces, dimensions and the gateway's feedback counts.

Standard library only, so the gateway image carries this module (`.dockerignore`) and publishes under exactly the
names the catalog (`safedeploy.canary.metrics`) reads, alarms on and charts.
"""

from __future__ import annotations

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
GATEWAY_NAMESPACE = "SafeDeploy/Gateway"
ENDPOINT_DIMENSION, VARIANT_DIMENSION, CONFIG_DIMENSION = "EndpointName", "VariantName", "EndpointConfigName"
# The gateway's outcome feedback: requests given a label, and those the served prediction got right.
FEEDBACK_RECEIVED_NAME, FEEDBACK_CORRECT_NAME = "FeedbackReceived", "FeedbackCorrect"
