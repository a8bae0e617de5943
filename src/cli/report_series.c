/* Live and mapped bytes over time: the dump's "series" ([[ms, live, mapped], ...], sampled by
 * the engine as it allocates, core/series.h) as two lines on one chart, with ticks at round
 * numbers of bytes and seconds. */
#include "cli.h"
#include "report.h"

#define CHART_WIDTH  896
#define CHART_HEIGHT 240
#define LEFT         70 /* room for the byte labels */
#define BOTTOM       24 /* room for the time labels */
#define TOP          8

/* A round step (1, 2 or 5 times a power of ten, or a power of two for bytes) that cuts range
 * into about ticks parts. */
static double nice_step(double range, int ticks, bool bytes)
{
    double raw = range / ticks, step = 1;
    if (bytes) {
        while (step * 2 <= raw)
            step *= 2;
        return step;
    }
    while (step * 10 <= raw)
        step *= 10;
    while (step > raw && step > 1e-9)
        step /= 10;
    if (step * 5 <= raw) return step * 5;
    if (step * 2 <= raw) return step * 2;
    return step;
}

static bool point_of(const json_value_t *p, double out[3])
{
    if (!p || p->kind != JV_ARRAY || p->count < 3) return false;
    for (int i = 0; i < 3; i++) {
        if (p->items[i]->kind != JV_NUMBER) return false;
        out[i] = p->items[i]->number;
    }
    return true;
}

void series_render(const json_value_t *series, strbuf_t *out)
{
    size_t n = series && series->kind == JV_ARRAY ? series->count : 0;
    double max_ms = 0, max_bytes = 0, point[3];
    size_t valid = 0;
    for (size_t i = 0; i < n; i++) {
        if (!point_of(series->items[i], point)) continue;
        valid++;
        if (point[0] > max_ms) max_ms = point[0];
        if (point[1] > max_bytes) max_bytes = point[1];
        if (point[2] > max_bytes) max_bytes = point[2];
    }
    if (valid == 0) {
        sb_printf(out, "<p class=\"note\">No samples: the engine noted no time series.</p>\n");
        return;
    }
    if (max_ms <= 0) max_ms = 1;
    if (max_bytes <= 0) max_bytes = 1;
    double byte_step = nice_step(max_bytes, 4, true), ms_step = nice_step(max_ms, 8, false);
    double top_bytes = byte_step * (double)(long long)(max_bytes / byte_step + 0.999);
    double plot_w = CHART_WIDTH - LEFT - 10, plot_h = CHART_HEIGHT - BOTTOM - TOP;
#define X(ms)    (LEFT + plot_w * (ms) / max_ms)
#define Y(bytes) (TOP + plot_h - plot_h * (bytes) / top_bytes)
    sb_printf(out,
              "<svg class=\"series\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
              "height=\"%d\" viewBox=\"0 0 %d %d\">\n",
              CHART_WIDTH, CHART_HEIGHT, CHART_WIDTH, CHART_HEIGHT);
    for (double b = 0; b <= top_bytes + 0.5; b += byte_step) {
        char label[24];
        cli_human_bytes(b, label, sizeof label);
        sb_printf(out,
                  "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                  "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                  LEFT, LEFT + plot_w, Y(b), Y(b), LEFT - 6, Y(b) + 4, label);
    }
    for (double t = 0; t <= max_ms + 0.5; t += ms_step)
        sb_printf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g s</text>\n", X(t),
                  CHART_HEIGHT - 6, t / 1000);
    static const char *const names[] = {"", "live", "mapped"};
    static const char *const colors[] = {"", "#e4572e", "#3a6ea5"};
    for (int line = 2; line >= 1; line--) {
        sb_printf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                  colors[line]);
        for (size_t i = 0; i < n; i++)
            if (point_of(series->items[i], point))
                sb_printf(out, "%.1f,%.1f ", X(point[0]), Y(point[line]));
        sb_printf(out, "\"><title>%s bytes</title></polyline>\n", names[line]);
    }
    /* The last point of each line, with its value. */
    for (size_t i = n; i-- > 0;) {
        if (!point_of(series->items[i], point)) continue;
        for (int line = 1; line <= 2; line++) {
            char human[24];
            cli_human_bytes(point[line], human, sizeof human);
            sb_printf(out,
                      "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%s at %g s: "
                      "%s</title></circle>\n",
                      X(point[0]), Y(point[line]), colors[line], names[line], point[0] / 1000,
                      human);
        }
        break;
    }
    sb_printf(out,
              "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" "
              "y=\"%d\">live (in use)</text><rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" "
              "fill=\"%s\"/><text x=\"%d\" y=\"%d\">mapped (held from the kernel)</text>\n",
              LEFT + 10, TOP + 2, colors[1], LEFT + 24, TOP + 11, LEFT + 120, TOP + 2, colors[2],
              LEFT + 134, TOP + 11);
    sb_printf(out, "</svg>\n<p class=\"note\">%zu samples over %.3f s.</p>\n", valid,
              max_ms / 1000);
#undef X
#undef Y
}
