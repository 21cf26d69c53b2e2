"""The canary analysis: every minute of a deployment, per-fleet CloudWatch aggregates -> `canary_verdict` -> a
`CanaryVerdict` metric that SageMaker's auto-rollback alarm watches, a decision record, and an event for the traffic
shifter. Plain boto3; `lambdas/canary_analysis` is a thin handler over `analysis.analyze_endpoint`.
"""
