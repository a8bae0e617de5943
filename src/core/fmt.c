/* Allocation-free formatting (see fmt.h). */
#include "core/fmt.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *buf;
    size_t cap;
    size_t len; /* bytes the full output has so far (may exceed cap) */
} sink_t;

static void put(sink_t *s, char c)
{
    if (s->len + 1 < s->cap) s->buf[s->len] = c;
    s->len++;
}

static void put_padded(sink_t *s, const char *text, size_t len, int width, int left, char pad)
{
    size_t fill = width > 0 && (size_t)width > len ? (size_t)width - len : 0;
    if (!left)
        for (size_t i = 0; i < fill; i++) put(s, pad);
    for (size_t i = 0; i < len; i++) put(s, text[i]);
    if (left)
        for (size_t i = 0; i < fill; i++) put(s, ' ');
}

static size_t utoa(uintmax_t value, unsigned base, int upper, char *out /* >= 24 */)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = digits[value % base];
        value /= base;
    } while (value);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

size_t hk_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
    sink_t s = {buf, cap, 0};
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put(&s, *p);
            continue;
        }
        p++;
        int left = 0, zero = 0, plus = 0, width = 0, precision = -1;
        for (;; p++) {
            if (*p == '-') left = 1;
            else if (*p == '0') zero = 1;
            else if (*p == '+') plus = 1;
            else break;
        }
        if (*p == '*') {
            width = va_arg(ap, int);
            if (width < 0) left = 1, width = -width;
            p++;
        } else {
            while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
        }
        if (*p == '.') {
            p++;
            precision = 0;
            if (*p == '*') {
                precision = va_arg(ap, int);
                p++;
            } else {
                while (*p >= '0' && *p <= '9') precision = precision * 10 + (*p++ - '0');
            }
        }
        int size = 0; /* 0 int, 1 long, 2 long long, 3 size_t, 4 intmax_t, 5 ptrdiff_t */
        if (*p == 'h') {
            p++;
            if (*p == 'h') p++;
        } else if (*p == 'l') {
            p++;
            size = 1;
            if (*p == 'l') p++, size = 2;
        } else if (*p == 'z') p++, size = 3;
        else if (*p == 'j') p++, size = 4;
        else if (*p == 't') p++, size = 5;

        char num[32];
        size_t n;
        switch (*p) {
        case 'd':
        case 'i': {
            intmax_t v = size == 0 ? va_arg(ap, int)
                         : size == 1 ? va_arg(ap, long)
                         : size == 2 ? va_arg(ap, long long)
                         : size == 3 ? (intmax_t)va_arg(ap, ssize_t)
                         : size == 4 ? va_arg(ap, intmax_t)
                                     : va_arg(ap, ptrdiff_t);
            uintmax_t mag = v < 0 ? -(uintmax_t)v : (uintmax_t)v;
            char sign = v < 0 ? '-' : plus ? '+' : 0;
            n = 0;
            if (sign) num[n++] = sign;
            n += utoa(mag, 10, 0, num + n);
            if (zero && !left && sign) {
                put(&s, sign);
                put_padded(&s, num + 1, n - 1, width - 1, 0, '0');
            } else {
                put_padded(&s, num, n, width, left, zero && !left ? '0' : ' ');
            }
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uintmax_t v = size == 0 ? va_arg(ap, unsigned)
                          : size == 1 ? va_arg(ap, unsigned long)
                          : size == 2 ? va_arg(ap, unsigned long long)
                          : size == 3 ? va_arg(ap, size_t)
                          : size == 4 ? va_arg(ap, uintmax_t)
                                      : (uintmax_t)va_arg(ap, ptrdiff_t);
            n = utoa(v, *p == 'u' ? 10 : 16, *p == 'X', num);
            put_padded(&s, num, n, width, left, zero && !left ? '0' : ' ');
            break;
        }
        case 'p': {
            uintptr_t v = (uintptr_t)va_arg(ap, void *);
            num[0] = '0';
            num[1] = 'x';
            n = 2 + utoa(v, 16, 0, num + 2);
            put_padded(&s, num, n, width, left, ' ');
            break;
        }
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str) str = "(null)";
            size_t len = strlen(str);
            if (precision >= 0 && (size_t)precision < len) len = (size_t)precision;
            put_padded(&s, str, len, width, left, ' ');
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            put_padded(&s, &c, 1, width, left, ' ');
            break;
        }
        case '%':
            put(&s, '%');
            break;
        case '\0':
            p--;
            break;
        default:
            put(&s, '%');
            put(&s, *p);
            break;
        }
    }
    if (cap) buf[s.len < cap ? s.len : cap - 1] = '\0';
    return s.len;
}

size_t hk_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = hk_vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

void hk_write_all(int fd, const char *data, size_t len)
{
    int saved = errno;
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            break;
        }
        data += w;
        len -= (size_t)w;
    }
    errno = saved;
}

void hk_dprintf(int fd, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    size_t n = hk_vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n >= sizeof buf) n = sizeof buf - 1;
    hk_write_all(fd, buf, n);
}
