from tests.dashboard.test_engine import data  # noqa: F401 - the hand-computed dataset, shared with the rollup tests
