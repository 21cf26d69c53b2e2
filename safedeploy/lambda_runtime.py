"""The one Lambda runtime the layer is built for: synth deploys it, `safedeploy doctor` checks the account runs it.

The layer's wheels are cp313 and need glibc <= 2.34 (Amazon Linux 2023), so another Python runtime cannot load them.
"""

LAMBDA_PYTHON = "3.13"
LAMBDA_RUNTIME = f"python{LAMBDA_PYTHON}"
