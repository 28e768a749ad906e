from tests.dashboard.test_column_reader import busy  # noqa: F401 - a week of random traffic, for the column tests
from tests.dashboard.test_engine import data  # noqa: F401 - the hand-computed dataset, shared with the rollup tests
