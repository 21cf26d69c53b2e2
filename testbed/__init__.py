"""The simulated AWS world the tests, the rehearsal and the benches share: moto and its extensions (in-process and as
a server), the request contracts and the IAM evaluation every call is held to, fleet simulators, the gateway harness,
Lambda fakes and provisioned deployment worlds.

Never shipped: the Lambda layer, the functions' code and the gateway image are built from safedeploy/, lambdas/ and
serving/ alone, and no shipped package imports this one (tests/unit/architecture/test_import_boundaries.py).
"""
