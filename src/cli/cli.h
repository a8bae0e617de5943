/* The heapkit command: what its verbs share. The command is an ordinary program (it may use
 * stdio and malloc); it talks to heapkit only from outside: preloading a library, setting
 * HEAPKIT_* variables and reading the files the library writes. */
#ifndef HK_CLI_CLI_H
#define HK_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The library directory the build or the installation gave the command: absolute, or
 * relative to the directory the command's executable is in (libdir.c). */
extern const char heapkit_libdir[];

/* Exit statuses of the command itself (run passes the program's on). */
enum { EXIT_NO_LIBRARY = 1, EXIT_USAGE = 2 };

/* The verbs; each takes the arguments after its name. */
int cli_run(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_stats(int argc, char **argv);
int cli_lib(int argc, char **argv);

/* The full path (links resolved) of the library of engine ("fast" or "buddy") into out;
 * false with a message on stderr when the engine is unknown or the library is missing. */
bool cli_find_library(const char *engine, char *out, size_t cap);

/* Renders the dumps (files, or directories holding heapkit.<pid>.json files) into one HTML
 * page at output; 0, or 1 with a message on stderr. */
int report_render(const char *const *inputs, size_t count, const char *output);

/* Matches "--name VALUE" and "--name=VALUE" at argv[*i] (advancing *i past the value). */
bool cli_option_value(int argc, char **argv, int *i, const char *name, const char **value);

/* Sizes for people: "1.5 MiB", "312 B" (units.c). */
void cli_human_bytes(double bytes, char *out, size_t cap);
/* An integer with thousands separated by thin spaces: "1 234 567". */
void cli_grouped(unsigned long long value, char *out, size_t cap);

/* Prints "heapkit: " and the message on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
