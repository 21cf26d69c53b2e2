"""Release control: the decisions between a trained model package and production.

The quality gate, the copy of a person's approval onto the model registry, and the promotion of an approved package
to the production repository. Each is a plain function over injected clients so the pipeline's Lambda handlers stay
thin and every decision can be tested without AWS.
"""
