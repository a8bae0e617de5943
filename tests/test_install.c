/* heapkit installed as a system library: `make install` into a DESTDIR puts every file where
 * mk/install.mk says and `make uninstall` takes every one away again; programs build against
 * the installed tree with pkg-config and with CMake's find_package(heapkit) and run; the
 * installed command finds its libraries relative to itself. Every test installs into its own
 * temporary directory, from the build tree this suite was built with. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"
#include "heapkit.h"
#include "public_api.h"

#if !defined(HK_SOURCE_DIR) || !defined(HK_BUILD) || !defined(HK_CC)
#error "HK_SOURCE_DIR, HK_BUILD and HK_CC must describe the build (see mk/install.mk)"
#endif

/* `make` in the source tree with this build's directory and compiler, so it finds everything
 * built and rebuilds nothing. The variables of the make that runs the tests are dropped: this is
 * a new make, not one of its jobs. */
#define MAKE_IN_TREE                                                                               \
    "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C '" HK_SOURCE_DIR      \
    "' 'BUILD=" HK_BUILD "' 'CC=" HK_CC "'"

#define SHARED_LIBRARIES                                                                           \
    "libheapkit", "libheapkit-buddy", "libheapkit-secure", "libosmem", "libmemory_allocation",     \
        "libmemalloc", "libmm"
#define PKG_CONFIG_NAMES                                                                           \
    "heapkit", "heapkit-buddy", "heapkit-secure", "osmem", "memory_allocation", "memalloc", "mm"
#define MAN_PAGES                                                                                  \
    "man1/heapkit.1", "man3/heapkit.3", "man7/heapkit-buddy.7", "man3/osmem.3",                    \
        "man3/memory_allocation.3", "man3/memalloc.3", "man3/mm.3"
#define HEADERS                                                                                    \
    "heapkit.h", "osmem.h", "block_meta.h", "memory_allocation.h", "memalloc.h",                   \
        "UserAPI_MemoryManager.h", "MM.h"

/* Runs a shell command (its stderr joined to stdout) and expects it to succeed; the caller frees
 * the result. */
static child_result_t *run(const char *format, ...)
{
    char command[8192];
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(command, sizeof command, format, ap);
    va_end(ap);
    cr_assert_lt((size_t)n + 16, sizeof command, "command too long");
    memmove(command + 11, command, (size_t)n + 1);
    memcpy(command, "exec 2>&1; ", 11);
    child_result_t *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    child_run(r, command, NULL, 300);
    cr_assert_eq(child_exit_code(r), 0, "`%s` failed (%d):\n%s", command, child_exit_code(r),
                 r->out);
    return r;
}

/* The same, for a command that must fail. */
static child_result_t *run_failing(const char *format, ...)
{
    char command[8192];
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(command, sizeof command, format, ap);
    va_end(ap);
    cr_assert_lt((size_t)n + 16, sizeof command, "command too long");
    memmove(command + 11, command, (size_t)n + 1);
    memcpy(command, "exec 2>&1; ", 11);
    child_result_t *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    child_run(r, command, NULL, 300);
    cr_assert_neq(child_exit_code(r), 0, "`%s` succeeded:\n%s", command, r->out);
    return r;
}

static void make_temp_dir(char *dir, size_t cap)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, cap, "%s/heapkit-install-XXXXXX", base);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp failed");
}

static void remove_dir(const char *dir)
{
    free(run("rm -rf '%s'", dir));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* The kind and mode of path (without following a last link), or 0 when it is missing. */
static mode_t mode_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? st.st_mode : 0;
}

static void expect_link(const char *dir, const char *name, const char *target)
{
    char path[4096], found[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert(S_ISLNK(mode_of(path)), "%s is not a symbolic link", path);
    ssize_t n = readlink(path, found, sizeof found - 1);
    cr_assert_gt(n, 0);
    found[n] = '\0';
    cr_expect_str_eq(found, target, "%s -> %s", path, found);
}

static void expect_file(const char *dir, const char *name, mode_t permissions)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    mode_t mode = mode_of(path);
    cr_assert(S_ISREG(mode), "%s is missing or not a file", path);
    cr_expect_eq(mode & 07777, permissions, "%s has mode %o", path, mode & 07777);
}

static int count_files(const char *root)
{
    child_result_t *r = run("find '%s' ! -type d | wc -l", root);
    int n = atoi(r->out);
    free(r);
    return n;
}

Test(install, puts_every_file_in_place_and_uninstall_removes_them_all)
{
    char root[512], dir[1024];
    make_temp_dir(root, sizeof root);
    free(run(MAKE_IN_TREE " install DESTDIR='%s'", root));

    int expected = 0;
    static const char *const libs[] = {SHARED_LIBRARIES};
    snprintf(dir, sizeof dir, "%s/usr/local/lib", root);
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        char so[128], so_major[128], so_full[128];
        snprintf(so, sizeof so, "%s.so", libs[i]);
        snprintf(so_full, sizeof so_full, "%s.so.%s", libs[i], HEAPKIT_VERSION);
        snprintf(so_major, sizeof so_major, "%s.so.%.*s", libs[i],
                 (int)strcspn(HEAPKIT_VERSION, "."), HEAPKIT_VERSION);
        expect_file(dir, so_full, 0644);
        expect_link(dir, so_major, so_full);
        expect_link(dir, so, so_major);
        expected += 3;
    }
    expect_file(dir, "libheapkit.a", 0644);
    expect_file(dir, "libmemory_allocation.a", 0644);
    expected += 2;

    static const char *const pcs[] = {PKG_CONFIG_NAMES};
    snprintf(dir, sizeof dir, "%s/usr/local/lib/pkgconfig", root);
    for (size_t i = 0; i < sizeof pcs / sizeof pcs[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s.pc", pcs[i]);
        expect_file(dir, name, 0644);
        expected++;
    }
    snprintf(dir, sizeof dir, "%s/usr/local/lib/cmake/heapkit", root);
    expect_file(dir, "heapkitConfig.cmake", 0644);
    expect_file(dir, "heapkitConfigVersion.cmake", 0644);
    expected += 2;

    static const char *const headers[] = {HEADERS};
    snprintf(dir, sizeof dir, "%s/usr/local/include/heapkit", root);
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        expect_file(dir, headers[i], 0644);
        expected++;
    }
    snprintf(dir, sizeof dir, "%s/usr/local/bin", root);
    expect_file(dir, "heapkit", 0755);
    expected++;

    static const char *const pages[] = {MAN_PAGES};
    snprintf(dir, sizeof dir, "%s/usr/local/share/man", root);
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        expect_file(dir, pages[i], 0644);
        expected++;
    }
    /* Every function and macro of a section-3 page has a link to it. */
    static const struct {
        const char *page, *names[16];
    } links[] = {
        {"heapkit.3", {HK_API, HK_PROF_API}},
        {"osmem.3", {OSMEM_API}},
        {"memory_allocation.3", {CHUNKS_API}},
        {"memalloc.3", {POOL_API}},
        {"mm.3", {MM_API, "MM_REG_STRUCT", "XCALLOC", "XFREE"}},
    };
    snprintf(dir, sizeof dir, "%s/usr/local/share/man/man3", root);
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        for (size_t j = 0; j < 16 && links[i].names[j]; j++) {
            char name[128];
            snprintf(name, sizeof name, "%s.3", links[i].names[j]);
            expect_link(dir, name, links[i].page);
            expected++;
        }
    }

    cr_expect_eq(count_files(root), expected, "install put other files than these %d", expected);

    free(run(MAKE_IN_TREE " uninstall DESTDIR='%s'", root));
    child_result_t *left = run("find '%s' ! -type d", root);
    cr_expect_str_empty(left->out, "uninstall left files behind:\n%s", left->out);
    free(left);
    snprintf(dir, sizeof dir, "%s/usr/local/include/heapkit", root);
    cr_expect_eq(mode_of(dir), 0, "uninstall left %s", dir);
    remove_dir(root);
}

/* A program that uses every library but the buddy malloc (a process has one malloc): it prints
 * the version and "ok" when each allocator served it. */
static const char consumer_source[] =
    "#include <heapkit.h>\n"
    "#include <memalloc.h>\n"
    "#include <memory_allocation.h>\n"
    "#include <osmem.h>\n"
    "#include <UserAPI_MemoryManager.h>\n"
    "#include <malloc.h>\n"
    "#include <stdio.h>\n"
    "#include <stdlib.h>\n"
    "typedef struct { int id; char name[20]; } emp_t;\n"
    "int main(void)\n"
    "{\n"
    "    char *a = malloc(64);\n"
    "    void *b = os_malloc(100), *c = allocate_memory(100), *d = custom_malloc(100);\n"
    "    MM_REG_STRUCT(emp_t);\n"
    "    emp_t *e = XCALLOC(2, emp_t);\n"
    "    int ok = a && b && c && d && e && e[1].id == 0 && malloc_usable_size(a) >= 64;\n"
    "    XFREE(e), custom_free(d), free_memory(c), os_free(b), free(a);\n"
    "    printf(\"%s %s\\n\", hk_version(), ok ? \"ok\" : \"failed\");\n"
    "    return !ok;\n"
    "}\n";

/* For the buddy malloc: it is the process's malloc when its statistics come out at exit. */
static const char buddy_consumer_source[] = "#include <malloc.h>\n"
                                            "#include <stdio.h>\n"
                                            "#include <stdlib.h>\n"
                                            "int main(void)\n"
                                            "{\n"
                                            "    void *p = malloc(100);\n"
                                            "    printf(\"%d\\n\", malloc_usable_size(p) >= 100);\n"
                                            "    free(p);\n"
                                            "    return 0;\n"
                                            "}\n";

Test(install, a_program_builds_with_pkg_config_against_a_destdir_install_and_runs)
{
    char root[512], path[1024];
    make_temp_dir(root, sizeof root);
    free(run(MAKE_IN_TREE " install DESTDIR='%s'", root));
    snprintf(path, sizeof path, "%s/app.c", root);
    write_file(path, consumer_source);
    snprintf(path, sizeof path, "%s/buddy.c", root);
    write_file(path, buddy_consumer_source);

    /* The .pc files say prefix=/usr/local; the sysroot puts the DESTDIR in front. */
    char pkg_config[8192];
    snprintf(
        pkg_config, sizeof pkg_config,
        "PKG_CONFIG_SYSROOT_DIR='%s' PKG_CONFIG_LIBDIR='%s/usr/local/lib/pkgconfig' pkg-config",
        root, root);
    static const char *const pcs[] = {PKG_CONFIG_NAMES};
    for (size_t i = 0; i < sizeof pcs / sizeof pcs[0]; i++) {
        child_result_t *r = run("%s --modversion %s", pkg_config, pcs[i]);
        cr_expect_str_eq(r->out, HEAPKIT_VERSION "\n", "%s.pc: %s", pcs[i], r->out);
        free(r);
    }
    child_result_t *r = run("%s --static --libs heapkit", pkg_config);
    cr_expect_not_null(strstr(r->out, "-lpthread"), "static linking needs threads: %s", r->out);
    free(r);

    free(run("cd '%s' && cc -Wall -Wextra -Werror app.c -o app "
             "$(%s --cflags --libs heapkit osmem memory_allocation memalloc mm) && "
             "cc -Wall -Werror buddy.c -o buddy $(%s --cflags --libs heapkit-buddy)",
             root, pkg_config, pkg_config));
    r = run("cd '%s' && LD_LIBRARY_PATH='%s/usr/local/lib' ./app", root, root);
    cr_expect_str_eq(r->out, HEAPKIT_VERSION " ok\n");
    free(r);
    r = run("cd '%s' && LD_LIBRARY_PATH='%s/usr/local/lib' HEAPKIT_SHOW_STATS=1 ./buddy", root,
            root);
    cr_expect_not_null(strstr(r->out, "heapkit-buddy statistics"), "%s", r->out);
    free(r);
    remove_dir(root);
}

/* A CMake project over every imported target. The package is installed with another PREFIX and
 * LIBDIR (lib64, which CMake does not search on Debian: heapkit_DIR names it) and found inside
 * the DESTDIR, so this also shows the package is relocatable. */
static const char cmake_project[] =
    "cmake_minimum_required(VERSION 3.13)\n"
    "project(consumer C)\n"
    "find_package(heapkit " HEAPKIT_VERSION " REQUIRED COMPONENTS heapkit buddy secure osmem\n"
    "             memory_allocation memalloc mm heapkit-static memory_allocation-static)\n"
    "set(libs heapkit::osmem heapkit::memory_allocation heapkit::memalloc heapkit::mm)\n"
    "add_executable(app app.c)\n"
    "target_link_libraries(app PRIVATE heapkit::heapkit ${libs})\n"
    "add_executable(app_static app.c)\n"
    "target_link_libraries(app_static PRIVATE heapkit::heapkit-static ${libs})\n"
    "add_executable(buddy buddy.c)\n"
    "target_link_libraries(buddy PRIVATE heapkit::buddy)\n"
    "file(WRITE ${CMAKE_BINARY_DIR}/found.txt \"${heapkit_VERSION}\")\n";

Test(install, a_program_builds_with_cmake_find_package_and_runs)
{
    char root[512], path[1024];
    make_temp_dir(root, sizeof root);
    free(run(MAKE_IN_TREE
             " install DESTDIR='%s/stage' PREFIX=/opt/heapkit LIBDIR=/opt/heapkit/lib64",
             root));
    snprintf(path, sizeof path, "%s/app.c", root);
    write_file(path, consumer_source);
    snprintf(path, sizeof path, "%s/buddy.c", root);
    write_file(path, buddy_consumer_source);
    snprintf(path, sizeof path, "%s/CMakeLists.txt", root);
    write_file(path, cmake_project);

    free(run("cd '%s' && cmake -S . -B build "
             "-Dheapkit_DIR='%s/stage/opt/heapkit/lib64/cmake/heapkit' && "
             "cmake --build build",
             root, root));
    child_result_t *r = run("cat '%s/build/found.txt'", root);
    cr_expect_str_eq(r->out, HEAPKIT_VERSION);
    free(r);
    /* CMake links with a run path to the imported libraries: no LD_LIBRARY_PATH needed. */
    r = run("cd '%s/build' && ./app && ./app_static", root);
    cr_expect_str_eq(r->out, HEAPKIT_VERSION " ok\n" HEAPKIT_VERSION " ok\n");
    free(r);
    r = run("readelf -d '%s/build/app_static'", root);
    cr_expect_null(strstr(r->out, "libheapkit.so"), "app_static links libheapkit.a:\n%s", r->out);
    free(r);
    r = run("cd '%s/build' && HEAPKIT_SHOW_STATS=1 ./buddy", root);
    cr_expect_not_null(strstr(r->out, "heapkit-buddy statistics"), "%s", r->out);
    free(r);
    remove_dir(root);
}

Test(install, the_cmake_package_refuses_another_major_version_and_unknown_components)
{
    char root[512], path[1024];
    make_temp_dir(root, sizeof root);
    free(run(MAKE_IN_TREE " install DESTDIR='%s'", root));
    snprintf(path, sizeof path, "%s/other-major", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/other-major/CMakeLists.txt", root);
    write_file(path, "cmake_minimum_required(VERSION 3.13)\nproject(p NONE)\n"
                     "find_package(heapkit 99.0 REQUIRED)\n");
    snprintf(path, sizeof path, "%s/no-such-component", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/no-such-component/CMakeLists.txt", root);
    write_file(path, "cmake_minimum_required(VERSION 3.13)\nproject(p NONE)\n"
                     "find_package(heapkit REQUIRED COMPONENTS heapkit no-such-thing)\n");

    child_result_t *r = run_failing("cd '%s' && cmake -S other-major -B b1 "
                                    "-DCMAKE_PREFIX_PATH='%s/usr/local'",
                                    root, root);
    cr_expect_not_null(strstr(r->out, "version: " HEAPKIT_VERSION), "%s", r->out);
    free(r);
    r = run_failing("cd '%s' && cmake -S no-such-component -B b2 "
                    "-DCMAKE_PREFIX_PATH='%s/usr/local'",
                    root, root);
    cr_expect_not_null(strstr(r->out, "no component 'no-such-thing'"), "%s", r->out);
    free(r);
    remove_dir(root);
}

Test(install, the_installed_command_finds_its_libraries_relative_to_itself)
{
    char root[512];
    make_temp_dir(root, sizeof root);
    free(run(MAKE_IN_TREE " install DESTDIR='%s' PREFIX=/usr LIBDIR=/usr/lib/some-arch", root));

    child_result_t *r = run("'%s/usr/bin/heapkit' version", root);
    cr_expect_str_eq(r->out, "heapkit " HEAPKIT_VERSION "\n");
    free(r);
    r = run("'%s/usr/bin/heapkit' lib buddy", root);
    char expected[1024];
    snprintf(expected, sizeof expected, "%s/usr/lib/some-arch/libheapkit-buddy.so.%s\n", root,
             HEAPKIT_VERSION);
    cr_expect_str_eq(r->out, expected);
    free(r);
    r = run(
        "'%s/usr/bin/heapkit' run --stats -- sh -c 'grep -c \"%s/usr/lib/some-arch/libheapkit\" "
        "/proc/self/maps'",
        root, root);
    cr_expect_gt(atoi(r->out), 0, "the installed library is mapped: %s", r->out);
    cr_expect_not_null(strstr(r->out, "heapkit statistics"), "%s", r->out);
    free(r);
    remove_dir(root);
}

/* ---- Man pages -------------------------------------------------------------------------- */

/* Every installed page: groff and man (as lintian runs it) have nothing to say, lexgrog finds
 * its NAME line (whatis), and the version is filled in. */
Test(man, every_installed_page_formats_without_warnings)
{
    char root[512];
    make_temp_dir(root, sizeof root);
    free(run(MAKE_IN_TREE " install DESTDIR='%s'", root));
    static const char *const pages[] = {MAN_PAGES};
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        char page[1024];
        snprintf(page, sizeof page, "%s/usr/local/share/man/%s", root, pages[i]);
        child_result_t *r = run("groff -man -ww -z '%s'", page);
        cr_expect_str_empty(r->out, "groff on %s:\n%s", pages[i], r->out);
        free(r);
        r = run("LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 "
                "man --warnings -E UTF-8 -l -Tutf8 -Z '%s' >/dev/null",
                page);
        cr_expect_str_empty(r->out, "man on %s:\n%s", pages[i], r->out);
        free(r);
        free(run("lexgrog '%s'", page));
        r = run("sed -n 's/^\\.TH [^\"]*\"heapkit \\([^\"]*\\)\".*/\\1/p' '%s'; "
                "grep -c '@VERSION@' '%s' || :",
                page, page);
        cr_expect_str_eq(r->out, HEAPKIT_VERSION "\n0\n",
                         "%s: the title line names the version, no @VERSION@ is left: %s", pages[i],
                         r->out);
        free(r);
    }
    remove_dir(root);
}

/* Each HEAPKIT_* option the sources read (hk_env_*("HEAPKIT_…")) has its entry in heapkit(3). */
Test(man, heapkit_3_documents_every_option_the_sources_read)
{
    child_result_t *names = run("grep -rhoE 'hk_env_[a-z]+\\(\"HEAPKIT_[A-Z0-9_]+\"' '%s/src' | "
                                "sed 's/.*\"\\(.*\\)\"/\\1/' | sort -u",
                                HK_SOURCE_DIR);
    int options = 0;
    for (char *name = strtok(names->out, "\n"); name; name = strtok(NULL, "\n"), options++) {
        child_result_t *r = run("grep -c '^\\.B %s$' '%s/man/heapkit.3' || :", name, HK_SOURCE_DIR);
        cr_expect_eq(atoi(r->out), 1, "heapkit(3) has no entry .B %s", name);
        free(r);
    }
    cr_expect_geq(options, 6, "the sources read at least six options");
    free(names);
}

/* Each option of the command (every "--option" the sources of src/cli name) is described in
 * heapkit(1). */
Test(man, heapkit_1_documents_every_option_of_the_command)
{
    child_result_t *names =
        run("grep -ohE '\"--[a-z][a-z-]*' '%s'/src/cli/*.c | tr -d '\"' | sort -u", HK_SOURCE_DIR);
    int options = 0;
    for (char *name = strtok(names->out, "\n"); name; name = strtok(NULL, "\n"), options++) {
        char roff[128] = "";
        for (const char *c = name; *c; c++)
            strcat(roff, *c == '-' ? "\\-" : (char[2]){*c, 0});
        child_result_t *r = run("grep -cF -- '%s' '%s/man/heapkit.1' || :", roff, HK_SOURCE_DIR);
        cr_expect_gt(atoi(r->out), 0, "heapkit(1) does not describe %s", name);
        free(r);
    }
    cr_expect_geq(options, 6, "the command has at least six options");
    free(names);
}

/* ---- The Debian package ----------------------------------------------------------------- */

/* Builds the package into dir (make deb DEB_OUT=dir); its path goes to deb. */
static void build_deb(const char *dir, char *deb, size_t cap)
{
    free(run(MAKE_IN_TREE " deb DEB_OUT='%s'", dir));
    child_result_t *r =
        run("ls '%s'/heapkit_" HEAPKIT_VERSION "_$(dpkg --print-architecture).deb", dir);
    r->out[strcspn(r->out, "\n")] = '\0';
    cr_assert_lt(strlen(r->out), cap);
    snprintf(deb, cap, "%.1000s", r->out);
    free(r);
}

/* The multiarch library directory the package uses, such as usr/lib/x86_64-linux-gnu. */
static void deb_libdir(char *out, size_t cap)
{
    child_result_t *r = run("dpkg-architecture -qDEB_HOST_MULTIARCH");
    r->out[strcspn(r->out, "\n")] = '\0';
    cr_assert_lt(strlen(r->out) + 9, cap);
    snprintf(out, cap, "usr/lib/%.200s", r->out);
    free(r);
}

/* What "Done when" asks of a machine with only the package: extracted into a temporary root
 * (dpkg-deb -x), its command runs programs on heapkit, and programs build against it with
 * pkg-config and with CMake and run. Also the control data: the fields, Depends computed, the
 * checksums right, the libraries stripped, the documents Debian expects. */
Test(deb, the_extracted_package_runs_heapkit_and_builds_programs_with_pkg_config_and_cmake)
{
    char dir[512], deb[1024], root[1024], libdir[256], path[1200];
    make_temp_dir(dir, sizeof dir);
    build_deb(dir, deb, sizeof deb);
    deb_libdir(libdir, sizeof libdir);
    snprintf(root, sizeof root, "%s/root", dir);
    free(run("dpkg-deb -x '%s' '%s' && dpkg-deb -e '%s' '%s/control'", deb, root, deb, dir));

    child_result_t *r = run("dpkg-deb -f '%s' Package Version Depends", deb);
    cr_expect_not_null(strstr(r->out, "Package: heapkit\nVersion: " HEAPKIT_VERSION "\n"), "%s",
                       r->out);
    cr_expect_not_null(strstr(r->out, "Depends: libc6 (>= "), "Depends computed: %s", r->out);
    free(r);
    free(run("cd '%s' && md5sum --quiet -c '%s/control/md5sums'", root, dir));
    r = run("cat '%s/control/shlibs' '%s/control/triggers'", dir, dir);
    cr_expect_not_null(strstr(r->out, "libheapkit 0 heapkit (>= " HEAPKIT_VERSION ")"), "%s",
                       r->out);
    cr_expect_not_null(strstr(r->out, "activate-noawait ldconfig"), "%s", r->out);
    free(r);
    r = run("readelf -S '%s/%s/libheapkit.so.%s' | grep -c debug_info || :", root, libdir,
            HEAPKIT_VERSION);
    cr_expect_eq(atoi(r->out), 0, "the shared libraries are stripped");
    free(r);
    free(
        run("cd '%s' && test -f usr/share/doc/heapkit/copyright && "
            "zcat usr/share/doc/heapkit/changelog.gz | grep -q '^heapkit (" HEAPKIT_VERSION ")' && "
            "zcat usr/share/man/man1/heapkit.1.gz | grep -q '^\\.TH HEAPKIT 1' && "
            "test -L usr/share/man/man3/hk_trim.3.gz && "
            "test -f usr/include/heapkit/heapkit.h && test -f %s/cmake/heapkit/heapkitConfig.cmake",
            root, libdir));

    /* The command, from the temporary root: it finds the library in the root's libdir. */
    r = run("'%s/usr/bin/heapkit' version", root);
    cr_expect_str_eq(r->out, "heapkit " HEAPKIT_VERSION "\n");
    free(r);
    r = run("'%s/usr/bin/heapkit' run --stats -- ls /", root);
    cr_expect_not_null(strstr(r->out, "heapkit statistics: pid "), "%s", r->out);
    cr_expect_not_null(strstr(r->out, "(ls) =="), "%s", r->out);
    free(r);
    r = run("'%s/usr/bin/heapkit' run -- grep -c '%s/%s/libheapkit' /proc/self/maps", root, root,
            libdir);
    cr_expect_gt(atoi(r->out), 0, "the packaged library is mapped: %s", r->out);
    free(r);

    /* A program built with pkg-config against the root, run with the root's libraries. */
    snprintf(path, sizeof path, "%s/app.c", dir);
    write_file(path, consumer_source);
    free(run("cd '%s' && cc -Wall -Werror app.c -o app $(PKG_CONFIG_SYSROOT_DIR='%s' "
             "PKG_CONFIG_LIBDIR='%s/%s/pkgconfig' pkg-config --cflags --libs heapkit osmem "
             "memory_allocation memalloc mm)",
             dir, root, root, libdir));
    r = run("cd '%s' && LD_LIBRARY_PATH='%s/%s' ./app", dir, root, libdir);
    cr_expect_str_eq(r->out, HEAPKIT_VERSION " ok\n");
    free(r);

    /* And with CMake, finding the package under the root's /usr. */
    snprintf(path, sizeof path, "%s/buddy.c", dir);
    write_file(path, buddy_consumer_source);
    snprintf(path, sizeof path, "%s/CMakeLists.txt", dir);
    write_file(path, cmake_project);
    free(run("cd '%s' && cmake -S . -B cmake-build -DCMAKE_PREFIX_PATH='%s/usr' && "
             "cmake --build cmake-build",
             dir, root));
    r = run("cd '%s/cmake-build' && ./app", dir);
    cr_expect_str_eq(r->out, HEAPKIT_VERSION " ok\n");
    free(r);
    remove_dir(dir);
}

/* dpkg itself installs the package into a root of its own (its own database and log; Depends on
 * libc6 forced, as that database has no libc6) and removes it without leaving a file; lintian, when
 * installed, has nothing to say but information. */
Test(deb, dpkg_installs_and_removes_the_package_and_lintian_finds_no_problem)
{
    char dir[512], deb[1024];
    make_temp_dir(dir, sizeof dir);
    build_deb(dir, deb, sizeof deb);
    free(run("cd '%s' && mkdir -p root/var/lib/dpkg/info root/var/lib/dpkg/updates && "
             "touch root/var/lib/dpkg/status && "
             "dpkg --root=\"$PWD/root\" --log=\"$PWD/dpkg.log\" --force-not-root --force-depends "
             "-i '%s' && "
             "test -x root/usr/bin/heapkit && root/usr/bin/heapkit version && "
             "dpkg --root=\"$PWD/root\" --log=\"$PWD/dpkg.log\" --force-not-root -r heapkit",
             dir, deb));
    child_result_t *r = run("cd '%s/root' && find . ! -type d ! -path './var/lib/dpkg/*'", dir);
    cr_expect_str_empty(r->out, "dpkg -r left:\n%s", r->out);
    free(r);

    r = run("command -v lintian || :");
    bool have_lintian = r->out[0] != '\0';
    free(r);
    if (have_lintian) {
        /* E: errors, W: warnings, P: pedantic findings; I: (information) is allowed. */
        r = run("lintian --pedantic '%s' 2>&1 | grep -v -e '^I: ' "
                "-e '^running with root privileges is not recommended' || :",
                deb);
        cr_expect_str_empty(r->out, "lintian:\n%s", r->out);
        free(r);
    } else {
        cr_log_warn("lintian is not installed: the package was not checked with it");
    }
    remove_dir(dir);
}
