/* Environment options (see options.h). */
#include "core/options.h"

#include <sys/auxv.h>

extern char **environ;

static bool is_secure(void)
{
    static int secure = -1;
    int value = __atomic_load_n(&secure, __ATOMIC_RELAXED);
    if (value < 0) {
        value = getauxval(AT_SECURE) != 0;
        __atomic_store_n(&secure, value, __ATOMIC_RELAXED);
    }
    return value;
}

bool hk_env_ready(void)
{
    return environ != NULL;
}

const char *hk_env_lookup(const char *name)
{
    char **env = environ;
    if (!env || is_secure()) return NULL;
    for (; *env; env++) {
        const char *entry = *env;
        const char *n = name;
        while (*n && *entry == *n) entry++, n++;
        if (*n == '\0' && *entry == '=') return entry + 1;
    }
    return NULL;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool same_word(const char *text, const char *word)
{
    while (*text && *word && lower(*text) == *word) text++, word++;
    return *text == '\0' && *word == '\0';
}

bool hk_parse_bool(const char *text, bool *out)
{
    static const char *yes[] = {"1", "yes", "on", "true", "y"};
    static const char *no[] = {"0", "no", "off", "false", "n"};
    for (unsigned i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (same_word(text, yes[i])) return *out = true, true;
        if (same_word(text, no[i])) return *out = false, true;
    }
    return false;
}

bool hk_parse_size(const char *text, size_t *out)
{
    size_t value = 0;
    const char *p = text;
    if (*p < '0' || *p > '9') return false;
    while (*p >= '0' && *p <= '9') {
        if (__builtin_mul_overflow(value, 10, &value) ||
            __builtin_add_overflow(value, (size_t)(*p - '0'), &value))
            return false;
        p++;
    }
    unsigned shift = 0;
    switch (lower(*p)) {
    case 'k': shift = 10, p++; break;
    case 'm': shift = 20, p++; break;
    case 'g': shift = 30, p++; break;
    default: break;
    }
    if (shift && lower(*p) == 'i') p++;
    if (lower(*p) == 'b') p++;
    if (*p != '\0') return false;
    if (shift && value > (SIZE_MAX >> shift)) return false;
    *out = value << shift;
    return true;
}

bool hk_parse_long(const char *text, long *out)
{
    const char *p = text;
    bool negative = *p == '-';
    if (*p == '-' || *p == '+') p++;
    if (*p < '0' || *p > '9') return false;
    long value = 0;
    while (*p >= '0' && *p <= '9') {
        if (__builtin_mul_overflow(value, 10, &value) ||
            __builtin_add_overflow(value, *p - '0', &value))
            return false;
        p++;
    }
    if (*p != '\0') return false;
    *out = negative ? -value : value;
    return true;
}

bool hk_env_bool(const char *name, bool fallback)
{
    const char *text = hk_env_lookup(name);
    bool value;
    return text && hk_parse_bool(text, &value) ? value : fallback;
}

size_t hk_env_size(const char *name, size_t fallback)
{
    const char *text = hk_env_lookup(name);
    size_t value;
    return text && hk_parse_size(text, &value) ? value : fallback;
}

long hk_env_long(const char *name, long fallback)
{
    const char *text = hk_env_lookup(name);
    long value;
    return text && hk_parse_long(text, &value) ? value : fallback;
}
