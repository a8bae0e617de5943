/* Streaming JSON output (see jsonout.h). */
#include "core/jsonout.h"

#include <errno.h>
#include <unistd.h>

#include "core/fmt.h"

void hk_jsonout_init(hk_jsonout_t *out, int fd)
{
    out->fd = fd;
    out->error = 0;
    out->used = 0;
}

/* Unlike hk_write_all, a failure is kept: a map that could not be written must say so. */
int hk_jsonout_flush(hk_jsonout_t *out)
{
    int saved = errno;
    const char *data = out->buf;
    size_t len = out->used;
    while (len > 0 && out->error == 0) {
        ssize_t w = write(out->fd, data, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            out->error = errno;
            break;
        }
        if (w == 0) {
            out->error = EIO;
            break;
        }
        data += w;
        len -= (size_t)w;
    }
    out->used = 0;
    errno = saved;
    return out->error;
}

void hk_jsonout_raw(hk_jsonout_t *out, const char *text, size_t len)
{
    while (len > 0) {
        if (out->used == sizeof out->buf) hk_jsonout_flush(out);
        size_t room = sizeof out->buf - out->used;
        size_t n = len < room ? len : room;
        for (size_t i = 0; i < n; i++)
            out->buf[out->used + i] = text[i];
        out->used += n;
        text += n;
        len -= n;
    }
}

void hk_jsonout_printf(hk_jsonout_t *out, const char *fmt, ...)
{
    if (sizeof out->buf - out->used < HK_JSONOUT_PIECE_MAX_BYTES) hk_jsonout_flush(out);
    va_list ap;
    va_start(ap, fmt);
    size_t n = hk_vsnprintf(out->buf + out->used, HK_JSONOUT_PIECE_MAX_BYTES, fmt, ap);
    va_end(ap);
    out->used += n < HK_JSONOUT_PIECE_MAX_BYTES ? n : HK_JSONOUT_PIECE_MAX_BYTES - 1;
}

void hk_jsonout_string(hk_jsonout_t *out, const char *text)
{
    static const char hex[] = "0123456789abcdef";
    hk_jsonout_raw(out, "\"", 1);
    for (const char *p = text ? text : ""; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            char escaped[2] = {'\\', (char)c};
            hk_jsonout_raw(out, escaped, 2);
        } else if (c < 0x20) {
            char escaped[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            hk_jsonout_raw(out, escaped, 6);
        } else {
            hk_jsonout_raw(out, (const char *)&c, 1);
        }
    }
    hk_jsonout_raw(out, "\"", 1);
}
