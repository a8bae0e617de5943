/* Options from the environment, read straight from `environ` (never getenv: this runs inside
 * malloc, possibly before the C library has finished starting). Names are HEAPKIT_*.
 * In a setuid/setgid program (AT_SECURE) every option reads as unset, as secure_getenv does.
 * Booleans: 1/yes/on/true and 0/no/off/false (any case). Sizes: a number with an optional
 * K, M or G suffix (powers of 1024), optionally followed by 'B' or 'iB'. */
#ifndef HK_CORE_OPTIONS_H
#define HK_CORE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value of environment variable name, or NULL when unset (or when AT_SECURE). */
const char *hk_env_lookup(const char *name);

/* True when the environment can be read yet (environ is set). Callers that read options
 * once should retry later when this is false. */
bool hk_env_ready(void);

/* Parsers; each returns false (and leaves *out alone) for malformed text. */
bool hk_parse_bool(const char *text, bool *out);
bool hk_parse_size(const char *text, size_t *out);
bool hk_parse_long(const char *text, long *out);

/* Lookup plus parse, with a fallback for unset or malformed values. */
bool hk_env_bool(const char *name, bool fallback);
size_t hk_env_size(const char *name, size_t fallback);
long hk_env_long(const char *name, long fallback);

#endif
