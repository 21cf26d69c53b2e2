"""Inference gateway: validates requests, calls the SageMaker endpoint, attributes feedback to the variant that
served, and emits per-variant metrics for the canary analysis."""
