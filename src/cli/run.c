/* heapkit run: PROGRAM with a heapkit malloc preloaded, for it and every process it starts
 * (they inherit the environment). heapkit waits for it, forwards the signals it is sent, and
 * exits with its status (128 + the signal's number when a signal ended it, as a shell says),
 * after the report when one was asked for. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char run_usage[] =
    "usage: heapkit run [options] [--] PROGRAM [ARGS...]\n"
    "Runs PROGRAM, and every process it starts, with a heapkit malloc preloaded; exits with\n"
    "PROGRAM's status.\n"
    "  --engine fast|buddy|secure\n"
    "                       which malloc: libheapkit.so (fast, the default),\n"
    "                       libheapkit-buddy.so, libheapkit-secure.so (the fast engine\n"
    "                       hardened: canaries, quarantine, checked frees)\n"
    "  --stats              print each process's allocator statistics when it exits\n"
    "  --json               statistics as JSON, one object per process\n"
    "  --stats-file FILE    append statistics to FILE instead of stderr\n"
    "  --check              checked mode: detect double and invalid frees\n"
    "  --time               print the wall time of the run at the end\n"
    "  --profile            sample allocation sites (HEAPKIT_PROF=1) for the report\n"
    "  --report FILE        write an HTML report of every process to FILE at the end\n"
    "  --dump-dir DIR       keep each process's dump in DIR (heapkit.<pid>.json)\n"
    "  --help               print this summary\n";

typedef struct {
    const char *engine;
    const char *stats_file;
    const char *report;
    const char *dump_dir;
    bool stats, json, check, time, profile;
} run_options_t;

/* The child, for the signal handler; 0 until it exists. */
static volatile pid_t child_pid;

/* Signals forwarded to the program. One that a terminal sent (si_code SI_KERNEL) went to the
 * whole foreground process group, the program included: it is not sent twice. */
static const int forwarded_signals[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGTERM,
                                        SIGUSR1, SIGUSR2, SIGWINCH};

static void forward_signal(int sig, siginfo_t *info, void *context)
{
    (void)context;
    if (info && info->si_code == SI_KERNEL) return;
    pid_t pid = child_pid;
    if (pid > 0) kill(pid, sig);
}

static void forwarding_mask(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
        sigaddset(set, forwarded_signals[i]);
}

static void install_forwarding(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = forward_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
        sigaction(forwarded_signals[i], &action, NULL);
}

/* In the child: the environment, default signal handling, then PROGRAM (searched in PATH). */
static void __attribute__((noreturn))
exec_program(const run_options_t *o, const char *library, char **program)
{
    const char *old = getenv("LD_PRELOAD");
    size_t cap = strlen(library) + (old ? strlen(old) : 0) + 2;
    char *preload = malloc(cap);
    if (!preload) _exit(126);
    snprintf(preload, cap, "%s%s%s", library, old && *old ? ":" : "", old && *old ? old : "");
    setenv("LD_PRELOAD", preload, 1);
    if (o->check) setenv("HEAPKIT_CHECK", "1", 1);
    if (o->stats) {
        setenv("HEAPKIT_SHOW_STATS", "1", 1);
        if (o->json) setenv("HEAPKIT_STATS_JSON", "1", 1);
        if (o->stats_file) setenv("HEAPKIT_STATS_FILE", o->stats_file, 1);
    }
    if (o->profile) setenv("HEAPKIT_PROF", "1", 1);
    if (o->dump_dir) setenv("HEAPKIT_DUMP_DIR", o->dump_dir, 1);

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
        sigaction(forwarded_signals[i], &action, NULL);
    sigset_t set;
    forwarding_mask(&set);
    sigprocmask(SIG_UNBLOCK, &set, NULL);

    execvp(program[0], program);
    int err = errno;
    cli_error("cannot run %s: %s", program[0], strerror(err));
    _exit(err == ENOENT ? 127 : 126);
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* mkdir -p for the dump directory; its absolute path into out. */
static bool make_dump_dir(const char *dir, char *out, size_t cap)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) return false;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        cli_error("cannot create %s: %s", dir, strerror(errno));
        return false;
    }
    char resolved[PATH_MAX];
    if (!realpath(path, resolved) || strlen(resolved) >= cap) return false;
    memcpy(out, resolved, strlen(resolved) + 1);
    return true;
}

/* Removes the temporary dump directory and the files the run left in it (it is flat). */
static void remove_dump_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char path[PATH_MAX * 2];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    if (rmdir(dir) != 0) cli_error("cannot remove %s: %s", dir, strerror(errno));
}

static int parse_options(int argc, char **argv, run_options_t *o)
{
    int i = 0;
    for (; i < argc; i++) {
        const char *arg = argv[i], *value;
        if (strcmp(arg, "--") == 0) return i + 1;
        if (arg[0] != '-') return i;
        if (cli_option_value(argc, argv, &i, "--engine", &value))
            o->engine = value;
        else if (strcmp(arg, "--stats") == 0)
            o->stats = true;
        else if (strcmp(arg, "--json") == 0)
            o->stats = o->json = true;
        else if (cli_option_value(argc, argv, &i, "--stats-file", &value))
            o->stats = true, o->stats_file = value;
        else if (strcmp(arg, "--check") == 0)
            o->check = true;
        else if (strcmp(arg, "--time") == 0)
            o->time = true;
        else if (strcmp(arg, "--profile") == 0)
            o->profile = true;
        else if (cli_option_value(argc, argv, &i, "--report", &value))
            o->report = value;
        else if (cli_option_value(argc, argv, &i, "--dump-dir", &value))
            o->dump_dir = value;
        else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(run_usage, stdout);
            exit(0);
        } else {
            cli_error("unknown option '%s'", arg);
            fputs(run_usage, stderr);
            exit(EXIT_USAGE);
        }
    }
    return i;
}

int cli_run(int argc, char **argv)
{
    run_options_t o = {.engine = "fast"};
    int first = parse_options(argc, argv, &o);
    if (first >= argc) {
        cli_error("run needs a program");
        fputs(run_usage, stderr);
        return EXIT_USAGE;
    }
    char library[PATH_MAX];
    if (!cli_find_library(o.engine, library, sizeof library)) return EXIT_NO_LIBRARY;

    char dump_dir[PATH_MAX] = "";
    bool temporary_dumps = false;
    if (o.dump_dir) {
        if (!make_dump_dir(o.dump_dir, dump_dir, sizeof dump_dir)) return EXIT_USAGE;
    } else if (o.report) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dump_dir, sizeof dump_dir, "%s/heapkit-run-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dump_dir)) {
            cli_error("cannot create a directory for the dumps: %s", strerror(errno));
            return 1;
        }
        temporary_dumps = true;
    }
    if (dump_dir[0]) o.dump_dir = dump_dir;

    /* Signals wait until the child's pid is known, so none is lost or sent to pid 0. */
    sigset_t forwarded, previous;
    forwarding_mask(&forwarded);
    sigprocmask(SIG_BLOCK, &forwarded, &previous);
    install_forwarding();
    fflush(NULL);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pid_t pid = fork();
    if (pid < 0) {
        cli_error("cannot fork: %s", strerror(errno));
        return 126;
    }
    if (pid == 0) exec_program(&o, library, argv + first);
    child_pid = pid;
    sigprocmask(SIG_SETMASK, &previous, NULL);

    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            cli_error("cannot wait for %s: %s", argv[first], strerror(errno));
            return 126;
        }
    child_pid = 0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (o.time) {
        double wall = seconds_since(&start);
        fprintf(stderr, "heapkit: wall time %d.%03d s (%s)\n", (int)wall,
                (int)((wall - (int)wall) * 1000), library);
    }
    if (o.report) {
        const char *inputs[] = {dump_dir};
        if (report_render(inputs, 1, o.report) != 0 && code == 0) code = 1;
    }
    if (temporary_dumps) remove_dump_dir(dump_dir);
    return code;
}
