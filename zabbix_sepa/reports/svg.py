"""Inline SVG charts for the HTML report: line and grouped bar charts, no script, no library."""
from html import escape

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 48
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")


def _nice_max(value):
    """The smallest 1, 2 or 5 times a power of ten at or above value (at least 1)."""
    if value <= 1:
        return 1
    power = 1
    while power * 10 <= value:
        power *= 10
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _label(value):
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def chart(kind, labels, series, title=""):
    """An <svg> of `series` ({name: [value or None, ...]}) over `labels` (strings).
    Values below zero are drawn at zero (reports chart amounts and counts)."""
    n = len(labels)
    top = _nice_max(max((v for values in series.values() for v in values if v is not None), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{HEIGHT + 20}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT + 20}" role="img" aria-label="{escape(title)}">']

    def y(v):
        return TOP + plot_h - plot_h * (max(v, 0) / top)

    for i in range(5):                                     # grid and y labels
        v = top * i / 4
        out.append(f'<line x1="{LEFT}" y1="{y(v):.1f}" x2="{WIDTH - RIGHT}" y2="{y(v):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11">{_label(v)}</text>')
    if labels and all(len(lab) == 10 and lab[4] == lab[7] == "-" for lab in labels):
        shown = [lab[5:] for lab in labels]                # dates: MM-DD, the year is in the period
    else:
        shown = list(labels)
    widest = max((len(lab) for lab in shown), default=1)
    step = max(1, -(-n * (6 * widest + 10) // plot_w))    # labels about 6 px a character, never overlapping
    slot = plot_w / max(n, 1)
    for i, lab in enumerate(shown):
        if i % step == 0:
            x = LEFT + slot * (i + 0.5)
            out.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" font-size="10">'
                       f'{escape(str(lab))}</text>')
    names = list(series)
    if kind == "bar":
        bar = slot * 0.8 / max(len(names), 1)
        for s, name in enumerate(names):
            for i, v in enumerate(series[name]):
                if not v:
                    continue
                x = LEFT + slot * i + slot * 0.1 + bar * s
                out.append(f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{max(bar - 1, 1):.1f}" '
                           f'height="{TOP + plot_h - y(v):.1f}" fill="{COLOURS[s % len(COLOURS)]}">'
                           f'<title>{escape(str(labels[i]))} {escape(name)}: {v:g}</title></rect>')
    else:
        for s, name in enumerate(names):
            points = [f"{LEFT + slot * (i + 0.5):.1f},{y(v):.1f}" for i, v in enumerate(series[name])
                      if v is not None]
            if points:
                out.append(f'<polyline fill="none" stroke="{COLOURS[s % len(COLOURS)]}" stroke-width="2" '
                           f'points="{" ".join(points)}"/>')
    out.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#333"/>')
    x = LEFT
    for s, name in enumerate(names):                       # legend
        out.append(f'<rect x="{x}" y="{HEIGHT + 6}" width="10" height="10" fill="{COLOURS[s % len(COLOURS)]}"/>')
        out.append(f'<text x="{x + 14}" y="{HEIGHT + 15}" font-size="11">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    out.append("</svg>")
    return "".join(out)
