"""What operators ask of an environment (its state, pending approvals, failed stages), as plain boto3 calls.

The CLI in `safedeploy/cli/ops_commands.py` only parses options and prints; everything here returns data.
"""
