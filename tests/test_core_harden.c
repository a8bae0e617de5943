/* The hardening pieces of src/core: the per-process secret and its keys, encoded links, canary
 * and junk patterns (fill and check at every alignment), the misuse reports, and the
 * HEAPKIT_HARDEN switch. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/canary.h"
#include "core/harden.h"
#include "core/misuse.h"
#include "core/secret.h"

Test(secret, is_drawn_once_non_zero_and_kept)
{
    uint64_t secret = hk_secret();
    cr_assert_neq(secret, 0);
    cr_assert_eq(hk_secret(), secret);
    cr_assert_eq(hk_secret_word, secret);
}

Test(secret, differs_between_processes)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    uint64_t values[2];
    for (int i = 0; i < 2; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* A fresh exec would draw anew; a forked child keeps the parent's (not drawn here
             * yet), so each child draws its own. */
            uint64_t s = hk_secret();
            _exit(write(fds[1], &s, sizeof s) == sizeof s ? 0 : 1);
        }
        waitpid(pid, NULL, 0);
        cr_assert_eq(read(fds[0], &values[i], sizeof values[i]), (ssize_t)sizeof values[i]);
    }
    cr_assert_neq(values[0], values[1]);
}

Test(secret, keys_for_different_purposes_differ)
{
    cr_assert_neq(hk_secret_key(1), hk_secret_key(2));
    cr_assert_neq(hk_secret_key(1), hk_secret());
    cr_assert_eq(hk_secret_key(7), hk_secret_key(7));
}

Test(secret, links_decode_back_and_depend_on_their_slot)
{
    uint64_t key = hk_secret_key(3);
    uintptr_t slot_a, slot_b;
    int target;
    slot_a = hk_link_encode(&slot_a, &target, key);
    slot_b = hk_link_encode(&slot_b, &target, key);
    cr_assert_eq(hk_link_decode(&slot_a, slot_a, key), &target);
    cr_assert_neq(slot_a, (uintptr_t)&target, "stored encoded");
    cr_assert_neq(hk_link_decode(&slot_b, slot_a, key), &target, "a copied link decodes wrong");
    uintptr_t end = hk_link_encode(&slot_a, NULL, key);
    cr_assert_neq(end, 0, "NULL is encoded too");
    cr_assert_null(hk_link_decode(&slot_a, end, key));
}

Test(secret, the_generator_moves)
{
    uint64_t state = hk_secret_key(4);
    uint64_t a = hk_rng_next(&state), b = hk_rng_next(&state);
    cr_assert_neq(a, b);
}

Test(canary, patterns_have_no_zero_byte_and_differ_per_block)
{
    char blocks[64][16];
    for (int i = 0; i < 64; i++) {
        uint64_t pattern = hk_canary_pattern(blocks[i], hk_secret_key(5));
        for (int b = 0; b < 8; b++)
            cr_assert_neq((pattern >> (8 * b)) & 0xff, 0);
        if (i) cr_assert_neq(pattern, hk_canary_pattern(blocks[i - 1], hk_secret_key(5)));
    }
}

/* Every start alignment and length up to 80 bytes, and one changed byte at every place. */
Test(canary, fill_then_check_finds_exactly_the_changed_byte)
{
    static unsigned char area[256];
    uint64_t patterns[2] = {hk_canary_pattern(area, hk_secret_key(6)), HK_JUNK_PATTERN};
    for (int k = 0; k < 2; k++)
        for (size_t start = 0; start < 8; start++)
            for (size_t len = 0; len <= 80; len++) {
                memset(area, 0, sizeof area);
                hk_pattern_fill(area + start, len, patterns[k]);
                cr_assert_null(hk_pattern_mismatch(area + start, len, patterns[k]));
                cr_assert_eq(area[start + len], 0, "nothing written past the end");
                for (size_t at = 0; at < len; at++) {
                    area[start + at] ^= 0x40;
                    cr_assert_eq(hk_pattern_mismatch(area + start, len, patterns[k]),
                                 area + start + at, "start %zu len %zu byte %zu", start, len, at);
                    area[start + at] ^= 0x40;
                }
            }
}

Test(canary, aligned_words_hold_the_pattern_itself)
{
    _Alignas(8) unsigned char area[32];
    uint64_t pattern = 0x1122334455667788u;
    hk_pattern_fill(area, sizeof area, pattern);
    uint64_t word;
    memcpy(&word, area + 8, 8);
    cr_assert_eq(word, pattern);
}

Test(misuse, formats_name_the_misuse_the_address_and_the_call)
{
    cr_assert_str_eq(hk_misuse_format(HK_MISUSE_DOUBLE_FREE), "double free of %p in %s()");
    cr_assert_str_eq(hk_misuse_format(HK_MISUSE_OVERFLOW), "heap overflow of %p detected in %s()");
    for (int k = 0; k < HK_MISUSE_KIND_COUNT; k++) {
        const char *f = hk_misuse_format((hk_misuse_t)k);
        cr_assert_not_null(strstr(f, "%p"));
        cr_assert_not_null(strstr(f, "%s()"));
    }
}

Test(misuse, a_report_is_one_line_then_abort, .signal = SIGABRT, .init = cr_redirect_stderr)
{
    hk_misuse_detail(HK_MISUSE_OVERFLOW, (void *)0x1000, "free", "%d bytes asked", 8);
}

Test(misuse, the_line_reads_as_documented)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        hk_misuse_detail(HK_MISUSE_OVERFLOW, (void *)0x1000, "free", "%d bytes asked", 8);
    }
    close(fds[1]);
    char line[256] = "";
    ssize_t n = read(fds[0], line, sizeof line - 1);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    cr_assert_gt(n, 0);
    line[n] = '\0';
    cr_assert_str_eq(line, "heapkit: heap overflow of 0x1000 detected in free() (8 bytes asked)\n");
}

Test(harden, is_off_unless_asked)
{
    unsetenv("HEAPKIT_HARDEN");
    cr_assert_not(hk_harden());
}

Test(harden, reads_heapkit_harden_once)
{
    setenv("HEAPKIT_HARDEN", "1", 1);
    cr_assert(hk_harden());
    setenv("HEAPKIT_HARDEN", "0", 1);
    cr_assert(hk_harden(), "the mode never changes once read");
}
