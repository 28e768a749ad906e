"""Assignment is deterministic per visitor, honours the traffic share and splits by the weights."""

import pytest

from splittests import assignment


def test_the_same_visitor_always_gets_the_same_draws():
    assert assignment.draws_for_visitor(test_id=1, visitor_id=42) == assignment.draws_for_visitor(
        test_id=1, visitor_id=42
    )


def test_another_test_draws_independently():
    assert assignment.draws_for_visitor(test_id=1, visitor_id=42) != assignment.draws_for_visitor(
        test_id=2, visitor_id=42
    )


@pytest.mark.parametrize(
    ("weights", "draw", "index"),
    [([1, 1], 0.0, 0), ([1, 1], 0.4999, 0), ([1, 1], 0.5, 1), ([1, 3], 0.26, 1), ([0, 1], 0.0, 1), ([2, 0], 0.99, 0)],
)
def test_it_picks_by_weight(weights, draw, index):
    assert assignment.pick(weights, draw) == index


def test_it_refuses_impossible_weights_and_draws():
    with pytest.raises(ValueError, match="weights"):
        assignment.pick([0, 0], 0.1)
    with pytest.raises(ValueError, match="draw"):
        assignment.pick([1, 1], 1.0)


def test_visitors_outside_the_traffic_share_are_not_in_the_test():
    assert assignment.assign(weights=[1, 1], traffic_percent=30, draws=(0.31, 0.1)) is None
    assert assignment.assign(weights=[1, 1], traffic_percent=30, draws=(0.29, 0.9)) == 1


def test_many_visitors_split_close_to_the_weights_and_the_share():
    counts = [0, 0, 0]
    outside = 0
    for visitor in range(20_000):
        index = assignment.assign(
            weights=[2, 1, 1],
            traffic_percent=50,
            draws=assignment.draws_for_visitor(test_id=7, visitor_id=visitor),
        )
        if index is None:
            outside += 1
        else:
            counts[index] += 1
    assert 9_700 < outside < 10_300
    inside = sum(counts)
    assert abs(counts[0] / inside - 0.5) < 0.02
    assert abs(counts[1] / inside - 0.25) < 0.02
