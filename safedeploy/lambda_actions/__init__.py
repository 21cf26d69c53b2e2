"""Run by the pipeline's Lambda actions: the decisions between a trained model package and production.

The quality gate, the copy of a person's approval onto the model registry, and the promotion (or forwarding) of an
approved package to the next environment's repository. Each is a plain function over injected clients so the Lambda
handlers stay thin and every decision can be tested without AWS. The records both these actions and the CodeBuild
deploy read live in `safedeploy.trust`.
"""
