"""Test support shared by unit and integration tests: moto extensions, AWS fixtures and test data builders."""
