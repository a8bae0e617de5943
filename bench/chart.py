"""Hand-written SVG chart for the heapkit benchmark: grouped bars of the ratio to glibc per
workload and allocator, one panel for wall time and one for peak RSS.  No plotting library."""
import html
import math

# One fixed colour per allocator, so charts from different runs read the same way.
COLOURS = {"jemalloc": "#1f77b4", "mimalloc": "#2ca02c", "tcmalloc": "#ff7f0e",
           "heapkit": "#d62728", "heapkit-buddy": "#9467bd", "heapkit-buddy-chunks": "#bcbd22"}
SPARE_COLOURS = ["#8c564b", "#e377c2", "#17becf", "#7f7f7f"]


def colour(name, index):
    return COLOURS.get(name, SPARE_COLOURS[index % len(SPARE_COLOURS)])


def _panel(out, top, title, workloads, allocs, ratio, width, height, cap):
    """Draws one panel; ratio(workload, alloc) returns a float or None (no data)."""
    left, right, bottom = 60, 20, 90
    plot_w, plot_h = width - left - right, height - bottom - 30
    y0 = top + 30 + plot_h                       # pixel row of ratio 0
    values = [ratio(w, a) for w in workloads for a in allocs]
    values = [v for v in values if v is not None]
    ymax = min(cap, max([1.25] + [v * 1.1 for v in values]))
    step = 0.25 if ymax <= 2 else (0.5 if ymax <= 4 else 1.0)

    def ypix(v):
        return y0 - plot_h * min(v, ymax) / ymax

    out.append('<text x="%d" y="%d" font-size="15" font-weight="bold">%s</text>'
               % (left, top + 18, html.escape(title)))
    t = 0.0
    while t <= ymax + 1e-9:
        y = ypix(t)
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e0e0e0"/>'
                   % (left, y, left + plot_w, y))
        out.append('<text x="%d" y="%.1f" font-size="11" text-anchor="end">%.2g</text>'
                   % (left - 6, y + 4, t))
        t += step
    group_w = plot_w / max(1, len(workloads))
    bar_w = group_w * 0.8 / max(1, len(allocs))
    for gi, w in enumerate(workloads):
        gx = left + gi * group_w + group_w * 0.1
        for ai, a in enumerate(allocs):
            v = ratio(w, a)
            if v is None:
                continue
            x, y = gx + ai * bar_w, ypix(v)
            out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">'
                       '<title>%s, %s: %.2f</title></rect>'
                       % (x, y, max(1.0, bar_w - 1), y0 - y, colour(a, ai),
                          html.escape(w), html.escape(a), v))
            if v > ymax:                         # clipped bar: print its value on top
                out.append('<text x="%.1f" y="%.1f" font-size="9" text-anchor="middle">%.1f</text>'
                           % (x + bar_w / 2, y - 2, v))
        lx, ly = gx + group_w * 0.4, y0 + 12
        out.append('<text x="%.1f" y="%.1f" font-size="11" text-anchor="end" '
                   'transform="rotate(-35 %.1f %.1f)">%s</text>' % (lx, ly, lx, ly, html.escape(w)))
    y1 = ypix(1.0)
    out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#000" stroke-dasharray="4 3"/>'
               % (left, y1, left + plot_w, y1))
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000"/>'
               % (left, y0, left + plot_w, y0))
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000"/>' % (left, top + 30, left, y0))


def write_svg(path, workloads, allocs, time_ratio, rss_ratio, subtitle="", cap=4.0):
    """time_ratio/rss_ratio: functions (workload, alloc) -> float or None."""
    width, panel_h = max(900, 110 * len(workloads) + 100), 330
    height = 60 + 2 * panel_h + 20
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" viewBox="0 0 %d %d">' % (width, height, width, height),
           '<rect width="100%" height="100%" fill="#fff"/>',
           '<text x="60" y="22" font-size="17" font-weight="bold">heapkit benchmark: ratio to '
           'glibc (lower is better)</text>',
           '<text x="60" y="40" font-size="11" fill="#555">%s</text>' % html.escape(subtitle)]
    lx = 60
    for ai, a in enumerate(allocs):            # legend
        out.append('<rect x="%d" y="48" width="12" height="12" fill="%s"/>'
                   % (lx, colour(a, ai)))
        out.append('<text x="%d" y="58" font-size="12">%s</text>' % (lx + 16, html.escape(a)))
        lx += 30 + 8 * len(a)
    _panel(out, 60, "wall time (median) / glibc", workloads, allocs, time_ratio, width,
           panel_h, cap)
    _panel(out, 60 + panel_h, "peak RSS (median) / glibc", workloads, allocs, rss_ratio, width,
           panel_h, cap)
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def geomean(values):
    values = [v for v in values if v and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))
