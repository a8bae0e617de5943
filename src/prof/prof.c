/* The profiler's state and the hooks engines call (prof.h): options, start-up, the per-thread
 * countdown's slow half, recording and forgetting sampled blocks, dumps at exit, on request and
 * on a signal.
 *
 * Start-up happens once, at the first allocation after the environment is readable: options
 * are read; when HEAPKIT_PROF is on, the library's own code range is found, the unwinder is
 * warmed up (its first use may allocate) and the dump signal is installed. Each thread seeds its
 * generator at its first allocation after that. A thread-local guard keeps the profiler from
 * sampling allocations made on its own behalf. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "core/fmt.h"
#include "core/options.h"
#include "prof/prof.h"
#include "prof/prof_internal.h"

enum { PROF_UNREAD, PROF_STARTING, PROF_OFF, PROF_ON };

prof_config_t prof_config;
hk_lock_t prof_lock = HK_LOCK_INIT;

static int prof_state = PROF_UNREAD;
static uint64_t threads_seeded; /* how many threads have seeded their generator */
static int dump_pending;        /* a signal came while the tables were busy */

__thread size_t hk_prof_countdown;
static __thread uint64_t thread_random; /* the thread's generator; 0 until seeded */
static __thread bool in_profiler;       /* the thread is inside the profiler */

/* ---- Options ------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int number;
} signal_names[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"USR1", SIGUSR1},
    {"USR2", SIGUSR2}, {"ALRM", SIGALRM},   {"TERM", SIGTERM}, {"URG", SIGURG},
    {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"PWR", SIGPWR},
};

/* "SIGUSR2", "USR2" or "12"; 0 when unset or unknown. */
static int parse_signal(const char *text)
{
    if (!text || !*text) return 0;
    long number;
    if (hk_parse_long(text, &number)) return number > 0 && number < 65 ? (int)number : 0;
    if (strncmp(text, "SIG", 3) == 0) text += 3;
    for (size_t i = 0; i < HK_ARRAY_LEN(signal_names); i++)
        if (strcmp(text, signal_names[i].name) == 0) return signal_names[i].number;
    return 0;
}

/* The exit dump's path pattern: HEAPKIT_DUMP_DIR/heapkit.%p.heap, else HEAPKIT_PROF_FILE, else
 * heapkit.%p.heap (%p: the pid when the dump is written, so each child of a fork has its own). */
static void read_exit_path(void)
{
    const char *dir = hk_env_lookup("HEAPKIT_DUMP_DIR");
    const char *file = hk_env_lookup("HEAPKIT_PROF_FILE");
    if (dir && *dir)
        hk_snprintf(prof_config.exit_path, sizeof prof_config.exit_path, "%s/heapkit.%%p.heap",
                    dir);
    else
        hk_snprintf(prof_config.exit_path, sizeof prof_config.exit_path, "%s",
                    file && *file ? file : "heapkit.%p.heap");
}

static void read_options(void)
{
    size_t mean = hk_env_size("HEAPKIT_PROF_SAMPLE", PROF_DEFAULT_SAMPLE_BYTES);
    prof_config.mean_bytes = (double)(mean ? mean : 1);
    const char *seed = hk_env_lookup("HEAPKIT_PROF_SEED");
    long value;
    if (seed && hk_parse_long(seed, &value)) {
        prof_config.seed = (uint64_t)value;
        prof_config.seeded = true;
    } else {
        /* The kernel's 16 random bytes for this process: no system call. */
        const uint64_t *random = (const uint64_t *)getauxval(AT_RANDOM);
        prof_config.seed = random ? random[0] ^ random[1] : 0x853C49E6748FEA9Bull;
    }
    prof_config.signal = parse_signal(hk_env_lookup("HEAPKIT_PROF_SIGNAL"));
    read_exit_path();
}

/* ---- Start-up ------------------------------------------------------------------------------ */

static void on_dump_signal(int signal);

static void install_signal(void)
{
    if (!prof_config.signal) return;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_dump_signal;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(prof_config.signal, &action, NULL);
}

static void start(bool from_environment, size_t mean_bytes, uint64_t seed)
{
    int expected = PROF_UNREAD;
    if (!__atomic_compare_exchange_n(&prof_state, &expected, PROF_STARTING, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED))
        return;
    if (from_environment && !hk_env_bool("HEAPKIT_PROF", false)) {
        __atomic_store_n(&prof_state, PROF_OFF, __ATOMIC_RELEASE);
        return;
    }
    if (from_environment) {
        read_options();
    } else {
        prof_config.mean_bytes = (double)(mean_bytes ? mean_bytes : 1);
        prof_config.seed = seed;
        prof_config.seeded = true;
        read_exit_path();
    }
    hk_lock_register(&prof_lock);
    bool nested = in_profiler;
    in_profiler = true;
    prof_stack_init();
    in_profiler = nested;
    install_signal();
    __atomic_store_n(&prof_state, PROF_ON, __ATOMIC_RELEASE);
}

static int state_now(void)
{
    int state = __atomic_load_n(&prof_state, __ATOMIC_ACQUIRE);
    if (hk_likely(state != PROF_UNREAD)) return state;
    if (!hk_env_ready()) return PROF_UNREAD;
    start(true, 0, 0);
    return __atomic_load_n(&prof_state, __ATOMIC_ACQUIRE);
}

bool prof_start_for_tests(size_t mean_bytes, uint64_t seed)
{
    if (__atomic_load_n(&prof_state, __ATOMIC_ACQUIRE) != PROF_UNREAD) return false;
    start(false, mean_bytes, seed);
    return __atomic_load_n(&prof_state, __ATOMIC_ACQUIRE) == PROF_ON;
}

bool hk_prof_on(void)
{
    return state_now() == PROF_ON;
}

/* ---- Sampling decisions -------------------------------------------------------------------- */

static void seed_thread(void)
{
    uint64_t n = __atomic_fetch_add(&threads_seeded, 1, __ATOMIC_RELAXED);
    thread_random = prof_thread_seed(prof_config.seed, n);
}

HK_NOINLINE bool hk_prof_due_slow(size_t size)
{
    if (in_profiler) return false;
    int state = state_now();
    if (state != PROF_ON) {
        /* Off: a countdown that never runs out. Not decided yet: ask again next time. */
        if (state == PROF_OFF) hk_prof_countdown = SIZE_MAX;
        return false;
    }
    if (hk_unlikely(thread_random == 0)) {
        seed_thread();
        size_t left = prof_draw_interval(&thread_random, prof_config.mean_bytes);
        if (left > size) {
            hk_prof_countdown = left - size;
            return false;
        }
    }
    /* A sample point fell inside this allocation; the next one is measured from its end. */
    hk_prof_countdown = prof_draw_interval(&thread_random, prof_config.mean_bytes);
    return true;
}

size_t hk_prof_interval(void)
{
    if (state_now() != PROF_ON) return SIZE_MAX;
    if (thread_random == 0) seed_thread();
    return prof_draw_interval(&thread_random, prof_config.mean_bytes);
}

/* ---- Records ------------------------------------------------------------------------------- */

/* Writes the exit dump's files; prof_lock held. %p in the pattern is the pid, %% a '%'. */
static int dump_exit_files_locked(void)
{
    char path[PROF_PATH_MAX];
    size_t used = 0;
    for (const char *p = prof_config.exit_path; *p; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            used += hk_snprintf(path + used, sizeof path - used, "%d", (int)getpid());
            p++;
        } else {
            if (p[0] == '%' && p[1] == '%') p++;
            if (used < sizeof path) path[used] = *p;
            used++;
        }
        if (used >= sizeof path) return ENAMETOOLONG;
    }
    path[used] = '\0';
    return prof_dump_locked(path);
}

static void dump_if_pending(void)
{
    if (hk_likely(!__atomic_load_n(&dump_pending, __ATOMIC_RELAXED))) return;
    hk_lock(&prof_lock);
    if (__atomic_exchange_n(&dump_pending, 0, __ATOMIC_RELAXED)) dump_exit_files_locked();
    hk_unlock(&prof_lock);
}

HK_NOINLINE void hk_prof_sampled(void *p, size_t requested, size_t usable)
{
    if (in_profiler || state_now() != PROF_ON) return;
    in_profiler = true;
    uintptr_t frames[PROF_MAX_FRAMES];
    unsigned depth = prof_stack_capture(frames, PROF_MAX_FRAMES);
    double weight = prof_weight(requested, prof_config.mean_bytes);
    hk_lock(&prof_lock);
    prof_table_insert((uintptr_t)p, requested, usable, weight, frames, depth);
    hk_unlock(&prof_lock);
    in_profiler = false;
    dump_if_pending();
}

bool hk_prof_freed(void *p)
{
    if (__atomic_load_n(&prof_state, __ATOMIC_ACQUIRE) != PROF_ON) return false;
    hk_lock(&prof_lock);
    bool recorded = prof_table_remove((uintptr_t)p);
    hk_unlock(&prof_lock);
    dump_if_pending();
    return recorded;
}

void hk_prof_resized(void *p, size_t requested, size_t usable)
{
    if (__atomic_load_n(&prof_state, __ATOMIC_ACQUIRE) != PROF_ON) return;
    hk_lock(&prof_lock);
    prof_table_resize((uintptr_t)p, requested, usable);
    hk_unlock(&prof_lock);
    dump_if_pending();
}

/* ---- Dumps --------------------------------------------------------------------------------- */

/* Runs in a signal handler: dumps now when the tables are free, else leaves the dump to the
 * thread that holds them (it looks when it lets go). Only async-signal-safe calls below: a
 * trylock, open, read, write, rename, close, mmap, munmap, _dl_find_object. */
static void on_dump_signal(int signal)
{
    (void)signal;
    int saved = errno;
    if (hk_trylock(&prof_lock)) {
        dump_exit_files_locked();
        hk_unlock(&prof_lock);
    } else {
        __atomic_store_n(&dump_pending, 1, __ATOMIC_RELAXED);
    }
    errno = saved;
}

int hk_prof_dump_files(const char *path)
{
    if (state_now() != PROF_ON) return ENOTSUP;
    hk_lock(&prof_lock);
    int error = path ? prof_dump_locked(path) : dump_exit_files_locked();
    hk_unlock(&prof_lock);
    return error;
}

void hk_prof_exit_dump(void)
{
    if (state_now() != PROF_ON) return;
    hk_lock(&prof_lock);
    dump_exit_files_locked();
    hk_unlock(&prof_lock);
}
