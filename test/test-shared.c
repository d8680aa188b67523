/* SPDX-License-Identifier: MIT */
/*
 * test-shared.c - what a program linked with libevsig.so sees.
 *
 * The only test executable linked with the shared library (the others link
 * the static one, to reach evsig__ internals), as c-rbtree's test-api.c:
 * the functions resolve from libevsig.so.0 at the version node of the
 * release that added them, internals stay hidden, and a signal and a
 * child go through the library for real. check-exports.sh checks that the
 * exported set is exactly evsig.h's; this checks what the dynamic linker
 * makes of it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"

/* The file a symbol was found in, by its soname's basename. */
static const char *file_of(void *sym)
{
    Dl_info info;

    assert_non_null(sym);
    assert_int_not_equal(dladdr(sym, &info), 0);
    assert_non_null(info.dli_fname);
    const char *slash = strrchr(info.dli_fname, '/');
    return slash ? slash + 1 : info.dli_fname;
}

static void test_public_functions_come_from_libevsig_so_0(void **state)
{
    (void)state;
    /* The program's own references, one per version node. */
    assert_string_equal(file_of((void *)evsig_signal), "libevsig.so.0");
    assert_string_equal(file_of((void *)evsig_spawn), "libevsig.so.0");
}

static void test_a_first_release_binary_finds_its_functions_at_evsig_0_1(void **state)
{
    (void)state;
    /* What a program linked with 0.1.0 asks the dynamic linker for. */
    int (*signum)(const char *) = (int (*)(const char *))
        dlvsym(RTLD_DEFAULT, "evsig_signum", "EVSIG_0.1");
    assert_non_null(signum);
    assert_string_equal(file_of((void *)signum), "libevsig.so.0");
    assert_int_equal(signum("TERM"), SIGTERM);

    const char *(*signame)(int) = (const char *(*)(int))
        dlvsym(RTLD_DEFAULT, "evsig_signame", "EVSIG_0.1");
    assert_non_null(signame);
    assert_string_equal(signame(SIGHUP), "SIGHUP");
}

static void test_second_release_functions_are_at_evsig_0_2_only(void **state)
{
    (void)state;
    static const char *const added[] = {
        "evsig_ref", "evsig_unref", "evsig_spawn",
        "evsig_set_child_backend", "evsig_child_backend",
    };
    for (size_t i = 0; i < sizeof(added) / sizeof(added[0]); i++) {
        assert_non_null(dlvsym(RTLD_DEFAULT, added[i], "EVSIG_0.2"));
        assert_null(dlvsym(RTLD_DEFAULT, added[i], "EVSIG_0.1"));
    }
    int (*backend)(void) = (int (*)(void))
        dlvsym(RTLD_DEFAULT, "evsig_child_backend", "EVSIG_0.2");
    int b = backend();
    assert_true(b == EVSIG_CHILD_PIDFD || b == EVSIG_CHILD_LIBEV);
}

static void test_internals_are_not_exported(void **state)
{
    (void)state;
    /* Names with external linkage inside the library (evsig-private.h). */
    assert_null(dlsym(RTLD_DEFAULT, "evsig__catch_gen"));
    assert_null(dlsym(RTLD_DEFAULT, "evsig__check_signum"));
}

static int delivered;
static void on_usr1(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    (void)data;
    delivered = info->signo;
}

static pid_t exited_pid;
static int exited_status = -1;
static void on_child(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    (void)loop;
    (void)data;
    exited_pid = pid;
    exited_status = status;
}

static void test_a_signal_and_a_child_go_through_the_shared_library(void **state)
{
    (void)state;
    struct ev_loop *loop = tu_default_loop();
    evsig_watcher w;

    delivered = 0;
    assert_succeeds(evsig_watch(loop, &w, SIGUSR1, on_usr1, NULL, EVSIG_ONESHOT));
    assert_int_equal(raise(SIGUSR1), 0);
    assert_true(TU_RUN_UNTIL(loop, delivered == SIGUSR1, 5));

    char *argv[] = { (char *)"true", NULL };
    evsig_spawn_options opts = { .file = "true", .argv = argv };
    exited_pid = 0;
    pid_t pid = assert_succeeds(evsig_spawn(loop, &opts, NULL, on_child, NULL));
    assert_true(TU_RUN_UNTIL(loop, exited_pid == pid, 10));
    assert_true(WIFEXITED(exited_status));
    assert_int_equal(WEXITSTATUS(exited_status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_functions_come_from_libevsig_so_0),
        cmocka_unit_test(test_a_first_release_binary_finds_its_functions_at_evsig_0_1),
        cmocka_unit_test(test_second_release_functions_are_at_evsig_0_2_only),
        cmocka_unit_test(test_internals_are_not_exported),
        cmocka_unit_test_setup_teardown(test_a_signal_and_a_child_go_through_the_shared_library,
                                        tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
