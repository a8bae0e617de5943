/* Test helper: whether a file holds exactly one valid JSON document, as Python's json module
 * (strict: no duplicate-free requirement, no trailing garbage) reads it. Header-only. */
#ifndef HK_TESTS_JSON_VALID_H
#define HK_TESTS_JSON_VALID_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs python3 on path; on failure its message is left in why. */
static inline bool json_file_is_valid(const char *path, char *why, size_t why_cap)
{
    char command[4200];
    snprintf(command, sizeof command,
             "python3 -c 'import json,sys; json.load(open(sys.argv[1]))' '%s' 2>&1", path);
    FILE *p = popen(command, "r");
    if (!p) return false;
    size_t n = fread(why, 1, why_cap - 1, p);
    why[n] = '\0';
    return pclose(p) == 0;
}

#endif
