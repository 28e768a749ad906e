"""The SVG time-series chart: axes, one path per series, tooltips, and no NaN for empty data."""

import re

import pytest

from dashboard.charts import label_indexes, line_chart, nice_ticks


def paths(svg):
    return re.findall(r'<path class="series series-(\d)" d="([^"]+)"', svg)


def test_it_draws_a_path_per_series_with_axis_labels_and_titles():
    svg = line_chart(["1 Mar", "2 Mar", "3 Mar"], [("Visitors", [1, 4, 2]), ("Pageviews", [2, 8, 3])], title="Traffic")
    assert svg.startswith('<svg class="chart" viewBox="0 0 800 240"') and svg.endswith("</svg>")
    assert '<title id="chart-title">Traffic</title>' in svg and 'role="img"' in svg
    assert [index for index, _ in paths(svg)] == ["0", "1"]
    assert re.findall(r'<text class="axis y"[^>]*>([^<]+)</text>', svg) == ["0", "2", "4", "6", "8"]
    assert re.findall(r'<text class="axis x"[^>]*>([^<]+)</text>', svg) == ["1 Mar", "2 Mar", "3 Mar"]
    assert "<title>2 Mar: 4 visitors; 8 pageviews</title>" in svg
    # The top of the axis is 8: the pageview peak touches it, the first point sits on the baseline's scale.
    assert paths(svg)[1][1] == "M48.0,162.0 L418.0,12.0 L788.0,137.0"


@pytest.mark.parametrize(
    ("labels", "series"),
    [([], [("Visitors", [])]), (["1 Mar", "2 Mar"], [("Visitors", [0, 0])]), (["1 Mar"], [("Visitors", [0])])],
)
def test_empty_or_zero_data_draws_a_flat_line_without_nan(labels, series):
    svg = line_chart(labels, series, title="Nothing yet")
    assert "NaN" not in svg and "inf" not in svg
    assert len(paths(svg)) == 1
    assert re.findall(r'<text class="axis y"[^>]*>([^<]+)</text>', svg) == ["0", "1"]


def test_a_single_bucket_is_a_visible_dot_in_the_middle():
    svg = line_chart(["14:00"], [("Visitors", [3])], title="One hour")
    ((_, d),) = paths(svg)
    assert d.startswith("M418.0,")


def test_it_escapes_every_text():
    svg = line_chart(["<b>"], [("A & B", [1])], title='"quoted" <script>')
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg and "A &amp; B" in svg


def test_it_refuses_series_that_do_not_match_the_labels():
    with pytest.raises(ValueError, match="has 1 values for 2 labels"):
        line_chart(["a", "b"], [("Visitors", [1])], title="x")


def test_ticks_are_round_numbers_covering_the_maximum():
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(3) == [0, 1, 2, 3]
    assert nice_ticks(97) == [0, 25, 50, 75, 100]
    assert nice_ticks(1234) == [0, 500, 1000, 1500]


def test_long_series_get_a_few_evenly_spread_labels():
    assert label_indexes(3) == [0, 1, 2]
    assert label_indexes(30) == [0, 5, 10, 14, 19, 24, 29]
    svg = line_chart([f"d{i}" for i in range(30)], [("Visitors", list(range(30)))], title="Month")
    assert len(re.findall(r'<text class="axis x"', svg)) == 7
    assert svg.count('<rect class="hover"') == 30
