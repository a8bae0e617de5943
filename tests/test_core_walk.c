/* The heap-map writer (hk_map_write) over a made-up walk, and the time series (hk_series_*):
 * the map is valid JSON with the documented header and one array per item in walk order,
 * labels are escaped, a failing destination stops the walk and returns its errno; the series
 * keeps at most HK_SERIES_POINTS points spread over the whole run and writes them as JSON. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/jsonout.h"
#include "core/series.h"
#include "core/walk.h"
#include "json_valid.h"

static unsigned visited;

/* Two segments of four pages of 100 blocks each: 802 items, labels that need escaping. */
static bool fake_walk(hk_block_visitor_t visitor, void *arg, int max_level)
{
    for (unsigned s = 0; s < 2; s++) {
        hk_block_info_t seg = {.level = HK_LEVEL_SEGMENT,
                               .state = HK_STATE_USED,
                               .address = 0x100000u * (s + 1),
                               .size = 0x100000,
                               .used_blocks = 1000,
                               .free_blocks = 24,
                               .label = "seg \"q\" \\ \n"};
        visited++;
        if (!visitor(&seg, arg)) return false;
        for (unsigned p = 0; p < 4 && max_level >= HK_LEVEL_PAGE; p++) {
            hk_block_info_t page = {.level = HK_LEVEL_PAGE,
                                    .state = HK_STATE_FREE,
                                    .size_class = 3,
                                    .address = seg.address + p * 0x1000,
                                    .size = 0x1000,
                                    .block_size = 40,
                                    .label = "page"};
            visited++;
            if (!visitor(&page, arg)) return false;
            for (unsigned b = 0; b < 100 && max_level >= HK_LEVEL_BLOCK; b++) {
                hk_block_info_t block = {.level = HK_LEVEL_BLOCK,
                                         .state = b % 4,
                                         .size_class = 3,
                                         .address = page.address + b * 40,
                                         .size = 40,
                                         .block_size = 32,
                                         .label = "block"};
                visited++;
                if (!visitor(&block, arg)) return false;
            }
        }
    }
    return true;
}

static char *read_fd(int fd)
{
    static char buf[1 << 17];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

Test(map_writer, writes_one_valid_json_object_with_every_item_in_walk_order)
{
    char path[] = "/tmp/heapkit-core-map-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(hk_map_write(fd, "demo", fake_walk, HK_LEVEL_BLOCK), 0);
    char *text = read_fd(fd);
    close(fd);
    char why[4096];
    cr_expect(json_file_is_valid(path, why, sizeof why), "%s", why);
    unlink(path);
    char head[128];
    snprintf(head, sizeof head, "{\"heapkit_map\": 1, \"engine\": \"demo\", \"pid\": %d, ",
             (int)getpid());
    cr_expect(strncmp(text, head, strlen(head)) == 0, "%.200s", text);
    cr_expect_not_null(strstr(text, "\"page_size\": "));
    cr_expect_not_null(strstr(text, "[0, 0, \"0x100000\", 1048576, 0, 1000, 24, 0, "
                                    "\"seg \\\"q\\\" \\\\ \\u000a\"]"),
                       "segments as arrays, labels escaped");
    cr_expect_not_null(strstr(text, "[1, 1, \"0x100000\", 4096, 40, 0, 0, 3, \"page\"]"));
    cr_expect_not_null(strstr(text, "[2, 3, \"0x100078\", 40, 32, 0, 0, 3, \"block\"]"));
    size_t items = 0;
    for (const char *p = text; (p = strstr(p, "\n[")); p++)
        items++;
    cr_expect_eq(items, 2 + 8 + 800);
    cr_expect(strcmp(text + strlen(text) - 3, "]}\n") == 0);
}

Test(map_writer, max_level_is_passed_to_the_walk)
{
    int fd = memfd_create("map", 0);
    visited = 0;
    cr_assert_eq(hk_map_write(fd, "demo", fake_walk, HK_LEVEL_SEGMENT), 0);
    close(fd);
    cr_expect_eq(visited, 2);
}

Test(map_writer, a_destination_that_fails_stops_the_walk_and_gives_its_errno)
{
    int pipe_fds[2];
    cr_assert_eq(pipe(pipe_fds), 0);
    close(pipe_fds[0]); /* writes now fail with EPIPE */
    signal(SIGPIPE, SIG_IGN);
    visited = 0;
    cr_expect_eq(hk_map_write(pipe_fds[1], "demo", fake_walk, HK_LEVEL_BLOCK), EPIPE);
    cr_expect_lt(visited, 802, "the walk stopped early (%u items)", visited);
    close(pipe_fds[1]);
    cr_expect_eq(hk_map_write(-1, "demo", fake_walk, HK_LEVEL_BLOCK), EBADF);
}

Test(jsonout, strings_escape_quotes_backslashes_and_control_characters)
{
    int fd = memfd_create("out", 0);
    hk_jsonout_t out;
    hk_jsonout_init(&out, fd);
    hk_jsonout_string(&out, "a\"b\\c\td\x01");
    hk_jsonout_raw(&out, " ", 1);
    hk_jsonout_string(&out, NULL);
    cr_assert_eq(hk_jsonout_flush(&out), 0);
    cr_expect_str_eq(read_fd(fd), "\"a\\\"b\\\\c\\u0009d\\u0001\" \"\"");
    close(fd);
}

Test(series, keeps_every_point_until_full_then_halves_and_spreads_them)
{
    hk_series_reset();
    for (uint64_t i = 0; i < HK_SERIES_POINTS; i++)
        hk_series_note(i, 2 * i);
    static hk_series_point_t points[HK_SERIES_POINTS];
    cr_assert_eq(hk_series_points(points, HK_SERIES_POINTS), HK_SERIES_POINTS);
    cr_expect_eq(points[10].live_bytes, 10);
    cr_expect_eq(points[10].mapped_bytes, 20);
    /* Ten times as many notes again: the ring never holds more than it can, and the points
     * stay in order and cover the whole run. */
    for (uint64_t i = HK_SERIES_POINTS; i < 11 * HK_SERIES_POINTS; i++)
        hk_series_note(i, 2 * i);
    size_t n = hk_series_points(points, HK_SERIES_POINTS);
    cr_expect_leq(n, HK_SERIES_POINTS);
    cr_expect_geq(n, HK_SERIES_POINTS / 2);
    cr_expect_eq(points[0].live_bytes, 0, "the first point stays");
    for (size_t i = 1; i < n; i++)
        cr_assert_gt(points[i].live_bytes, points[i - 1].live_bytes);
    cr_expect_gt(points[n - 1].live_bytes, 10 * HK_SERIES_POINTS, "the last notes are there");
}

Test(series, a_mark_is_always_kept_and_the_series_writes_json)
{
    hk_series_reset();
    for (uint64_t i = 0; i < 3 * HK_SERIES_POINTS; i++)
        hk_series_note(i, i);
    hk_series_mark(123456789, 987654321);
    static hk_series_point_t points[HK_SERIES_POINTS];
    size_t n = hk_series_points(points, HK_SERIES_POINTS);
    cr_expect_eq(points[n - 1].live_bytes, 123456789);

    hk_series_reset();
    hk_series_mark(1, 2);
    hk_series_mark(3, 4);
    int fd = memfd_create("series", 0);
    hk_jsonout_t out;
    hk_jsonout_init(&out, fd);
    hk_series_write(&out);
    cr_assert_eq(hk_jsonout_flush(&out), 0);
    unsigned long long ms0, ms1;
    cr_expect_eq(sscanf(read_fd(fd), "[[%llu, 1, 2], [%llu, 3, 4]]", &ms0, &ms1), 2, "%s",
                 read_fd(fd));
    cr_expect_leq(ms0, ms1);
    close(fd);
}
