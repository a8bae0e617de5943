/* Numbers for people, in the command's tables and reports. */
#include "cli.h"

void cli_human_bytes(double bytes, char *out, size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned unit = 0;
    while (bytes >= 1024 && unit + 1 < sizeof units / sizeof units[0]) {
        bytes /= 1024;
        unit++;
    }
    if (unit == 0)
        snprintf(out, cap, "%.0f B", bytes);
    else
        snprintf(out, cap,
                 bytes < 10    ? "%.2f %s"
                 : bytes < 100 ? "%.1f %s"
                               : "%.0f %s",
                 bytes, units[unit]);
}

void cli_grouped(unsigned long long value, char *out, size_t cap)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", value);
    size_t used = 0;
    for (int i = 0; i < n && used + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0) out[used++] = ' ';
        out[used++] = digits[i];
    }
    out[used] = '\0';
}
