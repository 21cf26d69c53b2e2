"""Read on both sides: the trust chain's records (approval records, package evidence, release.json) and the check
that a package is deployable. Written by the pipeline's Lambda actions, verified by `safedeploy deploy` in CodeBuild.
"""
