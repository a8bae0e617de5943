/* heapkit — run programs on heapkit's allocators and look at their heaps.
 *
 *   heapkit run [options] [--] PROGRAM [ARGS...]   run.c
 *   heapkit report DUMP... -o FILE.html            report.c
 *   heapkit stats [FILE...]                        stats.c
 *   heapkit lib [fast|buddy|secure]                library lookup, here
 *   heapkit version | help
 *
 * See heapkit(1). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "heapkit.h"

static const char usage_text[] =
    "usage: heapkit COMMAND [ARGS...]\n"
    "  run [options] [--] PROGRAM [ARGS...]  run PROGRAM (and every process it starts) with a\n"
    "                                        heapkit malloc preloaded (heapkit run --help)\n"
    "  report DUMP... -o FILE.html           one HTML page from the dumps of a run: heap map,\n"
    "                                        size classes, memory over time, allocation sites\n"
    "  stats [FILE...]                       print JSON statistics (or dumps') as tables\n"
    "  lib [fast|buddy|secure]               print the path of a library (for LD_PRELOAD)\n"
    "  version                               print heapkit's version\n"
    "  help                                  print this summary\n"
    "Each command takes --help. See heapkit(1).\n";

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("heapkit: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool cli_option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0) return false;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return true;
    }
    if (arg[n] != '\0') return false;
    if (*i + 1 >= argc) {
        cli_error("%s needs a value", name);
        exit(EXIT_USAGE);
    }
    *value = argv[++*i];
    return true;
}

/* The directory of the running executable (links resolved), without a trailing slash. */
static bool executable_dir(char *out, size_t cap)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) return false;
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    if (!slash) return false;
    *slash = '\0';
    return snprintf(out, cap, "%s", path) < (int)cap;
}

/* The libraries heapkit run and heapkit lib know, by the name --engine gives them. secure is
 * the fast engine built hardened (mk/secure.mk). */
static const struct {
    const char *engine, *library;
} libraries[] = {
    {"fast", "libheapkit.so"},
    {"buddy", "libheapkit-buddy.so"},
    {"secure", "libheapkit-secure.so"},
};

bool cli_find_library(const char *engine, char *out, size_t cap)
{
    const char *name = NULL;
    for (size_t i = 0; i < sizeof libraries / sizeof libraries[0]; i++)
        if (strcmp(engine, libraries[i].engine) == 0) name = libraries[i].library;
    if (!name) {
        cli_error("unknown engine '%s' (fast, buddy or secure)", engine);
        return false;
    }
    char here[PATH_MAX], dir[PATH_MAX * 2], candidate[PATH_MAX * 3], resolved[PATH_MAX];
    if (heapkit_libdir[0] != '/' && executable_dir(here, sizeof here))
        snprintf(dir, sizeof dir, "%s/%s", here, heapkit_libdir);
    else
        snprintf(dir, sizeof dir, "%s", heapkit_libdir);
    snprintf(candidate, sizeof candidate, "%s/%s", dir, name);
    if (!realpath(candidate, resolved) || access(resolved, R_OK) != 0) {
        cli_error("cannot find %s in %s", name, dir);
        return false;
    }
    if (strlen(resolved) >= cap) return false;
    memcpy(out, resolved, strlen(resolved) + 1);
    return true;
}

int cli_lib(int argc, char **argv)
{
    if (argc > 0 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fputs("usage: heapkit lib [fast|buddy|secure]\n"
              "Prints the absolute path of libheapkit (fast, the default), of\n"
              "libheapkit-buddy (buddy) or of libheapkit-secure (secure: the fast engine\n"
              "hardened), for LD_PRELOAD or a linker command line.\n",
              stdout);
        return 0;
    }
    char path[PATH_MAX];
    if (!cli_find_library(argc > 0 ? argv[0] : "fast", path, sizeof path)) return EXIT_NO_LIBRARY;
    puts(path);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *command = argv[1];
    if (strcmp(command, "run") == 0) return cli_run(argc - 2, argv + 2);
    if (strcmp(command, "report") == 0) return cli_report(argc - 2, argv + 2);
    if (strcmp(command, "stats") == 0) return cli_stats(argc - 2, argv + 2);
    if (strcmp(command, "lib") == 0) return cli_lib(argc - 2, argv + 2);
    if (strcmp(command, "version") == 0 || strcmp(command, "--version") == 0) {
        printf("heapkit %s\n", HEAPKIT_VERSION);
        return 0;
    }
    if (strcmp(command, "help") == 0 || strcmp(command, "--help") == 0 ||
        strcmp(command, "-h") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    cli_error("unknown command '%s'", command);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}
