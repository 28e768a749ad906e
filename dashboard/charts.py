"""Server-side SVG charts: a time series as inline SVG, so the dashboard draws without JavaScript.

Pure: numbers and labels in, markup out. Every text is escaped; an empty or all-zero series gives a
flat line at the baseline, never NaN.
"""

import math
from html import escape

WIDTH, HEIGHT = 800, 240
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 12, 12, 28
COLOURS = ("#4f46e5", "#0ea5e9", "#16a34a", "#d97706")
MAX_X_LABELS = 7


def nice_ticks(maximum, count=4):
    """Round tick values from 0 that cover `maximum`: 0, 5, 10, 15, 20 rather than 0, 4.3, 8.6 …"""
    if not maximum or maximum <= 0 or not math.isfinite(maximum):
        return [0, 1]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if step < 1:
        step = 1  # counts are whole numbers
    top = math.ceil(maximum / step) * step
    values = (round(i * step, 2) for i in range(round(top / step) + 1))
    return [int(v) if float(v).is_integer() else v for v in values]


def _fmt(value):
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def label_indexes(count, most=MAX_X_LABELS):
    """Which buckets get an x-axis label: evenly spread, always the first and the last."""
    if count <= most:
        return list(range(count))
    step = (count - 1) / (most - 1)
    return sorted({round(i * step) for i in range(most)})


def line_chart(labels, series, *, title, width=WIDTH, height=HEIGHT):
    """An SVG line chart.

    labels: one string per bucket (shown on the x axis and in tooltips).
    series: [(name, [number per bucket])], drawn in order, one <path> each.
    """
    count = len(labels)
    for name, values in series:
        if len(values) != count:
            raise ValueError(f"series {name!r} has {len(values)} values for {count} labels")
    plot_w = width - PAD_LEFT - PAD_RIGHT
    plot_h = height - PAD_TOP - PAD_BOTTOM
    maximum = max((v for _, values in series for v in values if v is not None and math.isfinite(v)), default=0)
    ticks = nice_ticks(maximum)
    top = ticks[-1] or 1

    def x(i):
        return PAD_LEFT + (plot_w / 2 if count == 1 else plot_w * i / (count - 1))

    def y(value):
        value = value if value is not None and math.isfinite(value) else 0
        return PAD_TOP + plot_h - plot_h * value / top

    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
    ]
    for tick in ticks:
        ty = f"{y(tick):.1f}"
        out.append(f'<line class="grid" x1="{PAD_LEFT}" x2="{width - PAD_RIGHT}" y1="{ty}" y2="{ty}"/>')
        out.append(f'<text class="axis y" x="{PAD_LEFT - 6}" y="{ty}" text-anchor="end" dy="4">{_fmt(tick)}</text>')
    for i in label_indexes(count):
        anchor = "start" if count > 1 and i == 0 else "end" if count > 1 and i == count - 1 else "middle"
        out.append(
            f'<text class="axis x" x="{x(i):.1f}" y="{height - 8}" text-anchor="{anchor}">{escape(labels[i])}</text>'
        )
    for index, (name, values) in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        points = " L".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        if count == 1:
            points += f" L{x(0) + 0.1:.1f},{y(values[0]):.1f}"  # a dot, not an empty path
        d = f"M{points}" if count else f"M{PAD_LEFT},{PAD_TOP + plot_h} L{width - PAD_RIGHT},{PAD_TOP + plot_h}"
        out.append(
            f'<path class="series series-{index}" d="{d}" fill="none" stroke="{colour}" stroke-width="2" '
            f'stroke-linejoin="round" stroke-linecap="round"><title>{escape(name)}</title></path>'
        )
    # One invisible column per bucket, whose <title> is the tooltip: every series' value there.
    column = plot_w / max(count, 1)
    for i, label in enumerate(labels):
        text = "; ".join(f"{_fmt(values[i] or 0)} {name.lower()}" for name, values in series)
        left = x(i) - column / 2 if count > 1 else PAD_LEFT
        out.append(
            f'<rect class="hover" x="{max(left, PAD_LEFT):.1f}" y="{PAD_TOP}" width="{column:.1f}" height="{plot_h}" '
            f'fill="transparent"><title>{escape(label)}: {escape(text)}</title></rect>'
        )
    out.append("</svg>")
    return "".join(out)
