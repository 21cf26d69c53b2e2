"""Run by CodeBuild: the Train stage's steps (`python -m safedeploy.build_steps.<step>`), one module per step.

They train through the user's model plug-in, evaluate, and register a package awaiting a person's approval. Nothing
here runs in a Lambda; the pipeline's Lambda actions live in `safedeploy.lambda_actions`.
"""
