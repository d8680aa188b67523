/* SPDX-License-Identifier: MIT */
/*
 * test-spawn.c - evsig_spawn() (DESIGN §3.6): what the command gets (argv,
 * environment, PATH search, cwd, fds 0-2, session and group, a clean
 * signal state, no stray fds), how it is watched (as a fork_and_watch
 * child: callback, result, SIGCHLD table, kill, NOREF, any loop), that
 * every failure -- bad input, the exec, a step before it, the fd limit --
 * is the call's error with nothing left behind, and that spawns in one
 * thread leak no fd into children other threads fork meanwhile.
 *
 * Runs once per child backend ('spawn' lets AUTO choose, 'spawn-libev'
 * forces LIBEV). The fixture (child-util.c, test-util.c) fails a test that
 * leaves a child, a zombie, an fd, a disposition or a mask behind.
 *
 * Commands are /bin/sh, /bin/cat and files this file writes into a
 * temporary directory; a command reports what it saw through its exit
 * code or a pipe, never through timing.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"
#include "child-util.h"

extern char **environ;

/* --- helpers --------------------------------------------------------------- */

static char tmpdir[64];

static int spawn_setup(void **state)
{
    strcpy(tmpdir, "/tmp/evsig-spawn-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    return child_setup(state);
}

static int spawn_teardown(void **state)
{
    char cmd[128];
    int r = child_teardown(state);

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        r = -1;
    return r;
}

/* A file @name in the test's directory with @body and @mode; its path. */
static const char *put_file(const char *name, const char *body, mode_t mode)
{
    static char path[8][128];
    static int next;
    char *p = path[next++ % 8];
    int fd;

    snprintf(p, 128, "%s/%s", tmpdir, name);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    tu_write_all(fd, body, strlen(body));
    close(fd);
    assert_int_equal(chmod(p, mode), 0);
    return p;
}

/* Spawn `sh -c @script` with @stdio on the default loop, recording into
 * @r. Returns the pid (asserted > 0). */
static pid_t spawn_sh(struct ev_loop *loop, const char *script,
                      const evsig_stdio stdio[3], int pipes[3],
                      struct exit_rec *r, int flags)
{
    char *argv[] = { (char *)"sh", (char *)"-c", (char *)script, NULL };
    evsig_spawn_options o = { .file = "/bin/sh", .argv = argv, .flags = flags };
    pid_t pid;

    if (stdio)
        memcpy(o.stdio, stdio, sizeof(o.stdio));
    pid = evsig_spawn(loop, &o, pipes, r ? rec_cb : NULL, r);
    if (pid < 0)
        fail_msg("evsig_spawn(sh -c '%s'): %s", script, tu_errname(errno));
    return pid;
}

/* Run @loop until @r's callback ran; then its status. */
static int wait_rec(struct ev_loop *loop, struct exit_rec *r)
{
    assert_true(TU_RUN_UNTIL(loop, r->calls == 1, 10));
    return r->status;
}

/* Everything readable from @fd (non-blocking) while @loop runs, until EOF;
 * a string in @buf. */
static size_t read_all(struct ev_loop *loop, int fd, char *buf, size_t size)
{
    size_t len = 0;
    struct tu_deadline d;

    tu_deadline_start(&d, loop, 10);
    for (;;) {
        ssize_t n = read(fd, buf + len, size - 1 - len);

        if (n > 0) {
            len += (size_t)n;
            if (len == size - 1)
                break;
            continue;
        }
        if (n == 0)
            break;
        assert_true(errno == EAGAIN || errno == EINTR);
        assert_false(d.expired);
        ev_run(loop, EVRUN_NOWAIT);
        usleep(1000);
    }
    tu_deadline_stop(&d);
    buf[len] = '\0';
    return len;
}

static int count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    assert_non_null(dir);
    while ((de = readdir(dir)))
        if (de->d_name[0] != '.')
            n++;
    closedir(dir);
    return n - 1;   /* the directory's own */
}

/* No child of this process at all, zombie or running. */
static void assert_no_children(void)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    assert_int_equal(waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT), -1);
    assert_int_equal(errno, ECHILD);
}

/* --- what the command gets --------------------------------------------------- */

static void test_a_spawned_commands_exit_code_reaches_its_callback_and_waitpid(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec r = { 0 };
    int status = -1;
    pid_t pid;

    (void)unused;
    pid = spawn_sh(loop, "exit 42", NULL, NULL, &r, 0);
    assert_exited(wait_rec(loop, &r), 42);
    assert_int_equal(r.pid, pid);
    assert_ptr_equal(r.loop, loop);
    /* The result is kept for evsig_waitpid(), as for fork_and_watch. */
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
    assert_exited(status, 42);
}

static void test_argv_and_envp_reach_the_command(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    evsig_stdio out[3] = { [1] = { EVSIG_STDIO_PIPE, 0 } };
    char *argv[] = { (char *)"sh", (char *)"-c", (char *)"printf '%s|%s|%s|%s' \"$0\" \"$1\" \"$FOO\" \"$HOME\"",
                     (char *)"zero", (char *)"one", NULL };
    char *envp[] = { (char *)"FOO=bar baz", NULL };
    evsig_spawn_options o = { .file = "/bin/sh", .argv = argv, .envp = envp };
    struct exit_rec r = { 0 };
    int pipes[3];
    char buf[256];

    (void)unused;
    memcpy(o.stdio, out, sizeof(out));
    assert_true(evsig_spawn(loop, &o, pipes, rec_cb, &r) > 0);
    assert_int_equal(pipes[0], -1);
    assert_int_equal(pipes[2], -1);
    read_all(loop, pipes[1], buf, sizeof(buf));
    close(pipes[1]);
    assert_string_equal(buf, "zero|one|bar baz|");   /* no HOME: envp only */
    assert_exited(wait_rec(loop, &r), 0);
}

static void test_a_null_envp_passes_the_callers_environment(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec r = { 0 };

    (void)unused;
    assert_int_equal(setenv("EVSIG_SPAWN_PROBE", "42", 1), 0);
    spawn_sh(loop, "test \"$EVSIG_SPAWN_PROBE\" = 42", NULL, NULL, &r, 0);
    assert_exited(wait_rec(loop, &r), 0);
    unsetenv("EVSIG_SPAWN_PROBE");
}

static void test_a_name_is_searched_in_the_callers_path_or_in_envps(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    char path_env[160], *argv[] = { (char *)"evsig-probe-tool", NULL };
    char *envp_with[] = { path_env, NULL };
    char *envp_without[] = { (char *)"FOO=1", NULL };
    evsig_spawn_options o = { .file = "evsig-probe-tool", .argv = argv };
    struct exit_rec r = { 0 };
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;

    (void)unused;
    put_file("evsig-probe-tool", "#!/bin/sh\nexit 7\n", 0755);
    snprintf(path_env, sizeof(path_env), "PATH=/nonexistent::%s", tmpdir);

    /* Not in the caller's PATH: ENOENT. */
    assert_fails_with(evsig_spawn(loop, &o, NULL, NULL, NULL), ENOENT);
    /* In envp's PATH (after a missing directory and an empty entry). */
    o.envp = envp_with;
    assert_true(evsig_spawn(loop, &o, NULL, rec_cb, &r) > 0);
    assert_exited(wait_rec(loop, &r), 7);
    /* envp without PATH searches /bin:/usr/bin, not the caller's PATH. */
    assert_int_equal(setenv("PATH", tmpdir, 1), 0);
    o.envp = envp_without;
    assert_fails_with(evsig_spawn(loop, &o, NULL, NULL, NULL), ENOENT);
    /* A NULL envp: the caller's PATH. */
    o.envp = NULL;
    memset(&r, 0, sizeof(r));
    assert_true(evsig_spawn(loop, &o, NULL, rec_cb, &r) > 0);
    assert_exited(wait_rec(loop, &r), 7);
    if (saved)
        setenv("PATH", saved, 1);
    else
        unsetenv("PATH");
    free(saved);
}

static void test_envp_without_path_still_finds_sh_in_bin(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    char *argv[] = { (char *)"sh", (char *)"-c", (char *)"exit 5", NULL };
    char *envp[] = { (char *)"FOO=1", NULL };
    evsig_spawn_options o = { .file = "sh", .argv = argv, .envp = envp };
    struct exit_rec r = { 0 };

    (void)unused;
    assert_true(evsig_spawn(loop, &o, NULL, rec_cb, &r) > 0);
    assert_exited(wait_rec(loop, &r), 5);
}

static void test_the_command_runs_in_cwd(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    evsig_stdio out[3] = { [1] = { EVSIG_STDIO_PIPE, 0 } };
    char *argv[] = { (char *)"sh", (char *)"-c", (char *)"pwd -P", NULL };
    evsig_spawn_options o = { .file = "/bin/sh", .argv = argv, .cwd = tmpdir };
    struct exit_rec r = { 0 };
    char buf[PATH_MAX + 2], want[PATH_MAX + 2], real[PATH_MAX];
    int pipes[3];

    (void)unused;
    memcpy(o.stdio, out, sizeof(out));
    assert_non_null(realpath(tmpdir, real));
    assert_true(evsig_spawn(loop, &o, pipes, rec_cb, &r) > 0);
    read_all(loop, pipes[1], buf, sizeof(buf));
    close(pipes[1]);
    snprintf(want, sizeof(want), "%s\n", real);
    assert_string_equal(buf, want);
    assert_exited(wait_rec(loop, &r), 0);
}

/* --- fds 0, 1, 2 ------------------------------------------------------------- */

static void test_pipes_connect_the_commands_stdin_stdout_and_stderr(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    evsig_stdio io[3] = { { EVSIG_STDIO_PIPE, 0 }, { EVSIG_STDIO_PIPE, 0 },
                          { EVSIG_STDIO_PIPE, 0 } };
    struct exit_rec r = { 0 };
    int pipes[3];
    char out[64], err[64];

    (void)unused;
    spawn_sh(loop, "read line; echo \"out:$line\"; echo \"err:$line\" >&2",
             io, pipes, &r, 0);
    for (int i = 0; i < 3; i++) {
        /* Ready for an ev_io: non-blocking, close-on-exec. */
        assert_true(fcntl(pipes[i], F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(pipes[i], F_GETFD) & FD_CLOEXEC);
    }
    assert_true(fcntl(pipes[0], F_GETFL) & O_WRONLY);
    tu_write_all(pipes[0], "hello\n", 6);
    close(pipes[0]);
    read_all(loop, pipes[1], out, sizeof(out));
    read_all(loop, pipes[2], err, sizeof(err));
    close(pipes[1]);
    close(pipes[2]);
    assert_string_equal(out, "out:hello\n");
    assert_string_equal(err, "err:hello\n");
    assert_exited(wait_rec(loop, &r), 0);
}

static void test_devnull_gives_eof_on_stdin_and_swallows_output(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    evsig_stdio io[3] = { { EVSIG_STDIO_DEVNULL, 0 }, { EVSIG_STDIO_DEVNULL, 0 },
                          { EVSIG_STDIO_DEVNULL, 0 } };
    struct exit_rec r = { 0 };

    (void)unused;
    spawn_sh(loop,
             "read x && exit 1; "
             "for f in 0 1 2; do "
             "  test \"$(readlink /proc/$$/fd/$f)\" = /dev/null || exit 2; done; "
             "echo gone; echo gone >&2",
             io, NULL, &r, 0);
    assert_exited(wait_rec(loop, &r), 0);
}

/* In a forked child (its own fds 1 and 2 are files A and B): swap them for
 * the command. Exit 0 if A got "err" and B got "out". */
static void swap_main(void *arg)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    evsig_stdio io[3] = { { EVSIG_STDIO_INHERIT, 0 }, { EVSIG_STDIO_FD, 2 },
                          { EVSIG_STDIO_FD, 1 } };
    char *argv[] = { (char *)"sh", (char *)"-c", (char *)"echo out; echo err >&2", NULL };
    evsig_spawn_options o = { .file = "/bin/sh", .argv = argv };
    const char *dir = arg;
    char a[128], b[128], buf[16];
    int fa, fb, status;
    pid_t pid;

    evsig_reset();
    snprintf(a, sizeof(a), "%s/A", dir);
    snprintf(b, sizeof(b), "%s/B", dir);
    fa = open(a, O_RDWR | O_CREAT | O_TRUNC, 0600);
    fb = open(b, O_RDWR | O_CREAT | O_TRUNC, 0600);
    TU_CHILD_CHECK(fa >= 0 && fb >= 0);
    TU_CHILD_CHECK(dup2(fa, 1) == 1 && dup2(fb, 2) == 2);
    /* Close-on-exec on fd 2: the command must get it all the same. */
    TU_CHILD_CHECK(fcntl(2, F_SETFD, FD_CLOEXEC) == 0);
    memcpy(o.stdio, io, sizeof(io));
    if (evsig_child_backend() == EVSIG_CHILD_LIBEV) {
        ev_loop_destroy(loop);
        loop = ev_default_loop(0);
    }
    pid = evsig_spawn(loop, &o, NULL, NULL, NULL);
    TU_CHILD_CHECK(pid > 0);
    TU_CHILD_CHECK(evsig_waitpid(loop, pid, &status, 0) == pid);
    TU_CHILD_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    TU_CHILD_CHECK(pread(fa, buf, sizeof(buf), 0) == 4 && memcmp(buf, "err\n", 4) == 0);
    TU_CHILD_CHECK(pread(fb, buf, sizeof(buf), 0) == 4 && memcmp(buf, "out\n", 4) == 0);
    /* The caller keeps its fds. */
    TU_CHILD_CHECK(fcntl(1, F_GETFD) >= 0 && fcntl(2, F_GETFD) >= 0);
    _exit(0);
}

static void test_stdio_fd_slots_may_swap_the_callers_own_fds_1_and_2(void **unused)
{
    (void)unused;
    tu_assert_child_exit(tu_fork(swap_main, tmpdir), 0, 20);
}

static void test_an_fd_slot_gives_the_command_a_copy_and_the_caller_keeps_its_fd(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    const char *path = put_file("out.txt", "", 0600);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    evsig_stdio io[3] = { [1] = { EVSIG_STDIO_FD, fd } };
    struct exit_rec r = { 0 };
    char buf[32] = { 0 };

    (void)unused;
    assert_true(fd >= 3);
    spawn_sh(loop, "echo written", io, NULL, &r, 0);
    assert_exited(wait_rec(loop, &r), 0);
    assert_int_equal(pread(fd, buf, sizeof(buf) - 1, 0), 8);
    assert_string_equal(buf, "written\n");
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);   /* untouched */
    close(fd);
}

/* --- a clean start --------------------------------------------------------- */

/* The command's SigBlk/SigIgn/SigCgt lines, read from /proc by cat itself. */
static void read_sig_lines(struct ev_loop *loop, char *blk, char *ign, char *cgt)
{
    evsig_stdio io[3] = { [1] = { EVSIG_STDIO_PIPE, 0 } };
    char *argv[] = { (char *)"cat", (char *)"/proc/self/status", NULL };
    evsig_spawn_options o = { .file = "cat", .argv = argv };
    struct exit_rec r = { 0 };
    static char buf[8192];
    int pipes[3];

    memcpy(o.stdio, io, sizeof(io));
    assert_true(evsig_spawn(loop, &o, pipes, rec_cb, &r) > 0);
    read_all(loop, pipes[1], buf, sizeof(buf));
    close(pipes[1]);
    assert_exited(wait_rec(loop, &r), 0);
    assert_int_equal(sscanf(strstr(buf, "SigBlk:"), "SigBlk: %63s", blk), 1);
    assert_int_equal(sscanf(strstr(buf, "SigIgn:"), "SigIgn: %63s", ign), 1);
    assert_int_equal(sscanf(strstr(buf, "SigCgt:"), "SigCgt: %63s", cgt), 1);
}

static void on_term(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    (void)info;
    (void)data;
}

static void test_the_command_starts_with_every_signal_default_and_nothing_blocked(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct sigaction ign = { .sa_handler = SIG_IGN }, old_pipe, old_hup;
    evsig_watcher w;
    char blk[64], sigign[64], cgt[64];

    (void)unused;
    /* A server: SIGPIPE ignored, an evsig handler for SIGTERM, an evsig
     * ignore for SIGHUP, SIGUSR1 blocked. None of it reaches the command. */
    sigaction(SIGPIPE, &ign, &old_pipe);
    sigaction(SIGHUP, NULL, &old_hup);
    assert_succeeds(evsig_watch(loop, &w, SIGTERM, on_term, NULL, 0));
    assert_succeeds(evsig_signal(loop, SIGHUP, EVSIG_IGN, NULL, NULL));
    tu_sigmask(SIG_BLOCK, SIGUSR1);
    read_sig_lines(loop, blk, sigign, cgt);
    tu_sigmask(SIG_UNBLOCK, SIGUSR1);
    evsig_unwatch(&w);
    assert_succeeds(evsig_signal(loop, SIGHUP, EVSIG_DFL, NULL, NULL));
    tu_put_back_exact(SIGPIPE, &old_pipe);
    tu_put_back_exact(SIGHUP, &old_hup);
    assert_string_equal(blk, "0000000000000000");
    assert_string_equal(sigign, "0000000000000000");
    assert_string_equal(cgt, "0000000000000000");
}

/* The fds `sh -c` sees, as a bit set of the numbers below 1024. */
static void fds_of_command(struct ev_loop *loop, int flags, uint64_t seen[16])
{
    evsig_stdio io[3] = { [1] = { EVSIG_STDIO_PIPE, 0 } };
    struct exit_rec r = { 0 };
    char buf[4096], *p, *end;
    int pipes[3];

    memset(seen, 0, 16 * sizeof(uint64_t));
    spawn_sh(loop, "ls -1 /proc/$$/fd", io, pipes, &r, flags);
    read_all(loop, pipes[1], buf, sizeof(buf));
    close(pipes[1]);
    assert_exited(wait_rec(loop, &r), 0);
    for (p = buf;; p = end) {
        long fd = strtol(p, &end, 10);

        if (end == p)
            break;
        if (fd >= 0 && fd < 1024)
            seen[fd / 64] |= UINT64_C(1) << (fd % 64);
    }
}

static void test_the_command_gets_fds_0_to_2_and_the_callers_inheritable_fds_only(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    int keep = fcntl(STDIN_FILENO, F_DUPFD, 200);            /* inheritable */
    int hidden = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 201);  /* close-on-exec */
    uint64_t want[16] = { 0 }, seen[16];
    DIR *dir;
    struct dirent *de;

    (void)unused;
    assert_int_equal(keep, 200);
    assert_int_equal(hidden, 201);
    /* What the command may see: 0-2 and whatever this process has open
     * without FD_CLOEXEC (keep, and what the test runner passed down) --
     * not evsig's epoll sets, pidfds or libev's eventfd, nor @hidden. */
    want[0] = 7;
    dir = opendir("/proc/self/fd");
    assert_non_null(dir);
    while ((de = readdir(dir))) {
        int fd = atoi(de->d_name);
        int fl;

        if (de->d_name[0] == '.' || fd == dirfd(dir) || fd >= 1024)
            continue;
        fl = fcntl(fd, F_GETFD);
        if (fl >= 0 && !(fl & FD_CLOEXEC))
            want[fd / 64] |= UINT64_C(1) << (fd % 64);
    }
    closedir(dir);
    assert_true(want[200 / 64] >> (200 % 64) & 1);
    fds_of_command(loop, 0, seen);
    close(keep);
    close(hidden);
    assert_memory_equal(seen, want, sizeof(want));

    keep = fcntl(STDIN_FILENO, F_DUPFD, 200);
    fds_of_command(loop, EVSIG_SPAWN_CLOSE_FDS, seen);
    close(keep);
    memset(want, 0, sizeof(want));
    want[0] = 7;
    assert_memory_equal(seen, want, sizeof(want));
}

static void test_setsid_and_setpgroup_give_the_command_its_session_or_group(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct gate *g = gate_new();
    evsig_stdio io[3] = { { EVSIG_STDIO_FD, g->rd } };
    struct exit_rec r[3] = { { 0 } };
    pid_t pid[3];

    (void)unused;
    /* Each blocks reading the gate on its stdin until the parent looked. */
    pid[0] = spawn_sh(loop, "read x", io, NULL, &r[0], 0);
    pid[1] = spawn_sh(loop, "read x", io, NULL, &r[1], EVSIG_SPAWN_SETPGROUP);
    pid[2] = spawn_sh(loop, "read x", io, NULL, &r[2],
                      EVSIG_SPAWN_SETSID | EVSIG_SPAWN_SETPGROUP);
    assert_int_equal(getpgid(pid[0]), getpgrp());
    assert_int_equal(getsid(pid[0]), getsid(0));
    assert_int_equal(getpgid(pid[1]), pid[1]);
    assert_int_equal(getsid(pid[1]), getsid(0));
    assert_int_equal(getpgid(pid[2]), pid[2]);
    assert_int_equal(getsid(pid[2]), pid[2]);
    gate_open(g);
    for (int i = 0; i < 3; i++)
        assert_exited(wait_rec(loop, &r[i]), 1);   /* read: EOF */
}

/* --- failures: the call's own, nothing left behind --------------------------- */

static void expect_failure(struct ev_loop *loop, evsig_spawn_options *o,
                           int err)
{
    int pipes[3] = { 7, 7, 7 }, fds = count_fds();
    evsig_stdio io[3] = { { EVSIG_STDIO_PIPE, 0 }, { EVSIG_STDIO_PIPE, 0 },
                          { EVSIG_STDIO_DEVNULL, 0 } };

    memcpy(o->stdio, io, sizeof(io));
    assert_fails_with(evsig_spawn(loop, o, pipes, NULL, NULL), err);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pipes[i], -1);
    assert_int_equal(count_fds(), fds);
    assert_no_children();
}

static void test_exec_failures_are_the_calls_errors_with_no_child_zombie_or_fd_left(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    char *argv[] = { (char *)"x", NULL };
    evsig_spawn_options o = { .argv = argv };
    const char *plain = put_file("plain.txt", "not a program\n", 0644);
    const char *garbage = put_file("garbage", "\x7f" "ELF garbage\n", 0755);
    char missing[128], notdir[160];

    (void)unused;
    tu_spin(loop);   /* nothing of an earlier test's left to reap */
    snprintf(missing, sizeof(missing), "%s/missing", tmpdir);
    snprintf(notdir, sizeof(notdir), "%s/sub", plain);

    o.file = missing;
    expect_failure(loop, &o, ENOENT);
    o.file = "evsig-no-such-program-anywhere";
    expect_failure(loop, &o, ENOENT);
    o.file = plain;
    expect_failure(loop, &o, EACCES);
    o.file = garbage;
    expect_failure(loop, &o, ENOEXEC);
    o.file = "/bin/true";
    o.cwd = missing;
    expect_failure(loop, &o, ENOENT);
    o.cwd = notdir;
    expect_failure(loop, &o, ENOTDIR);
}

static void test_bad_input_is_einval_before_anything_is_made(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    char *argv[] = { (char *)"true", NULL };
    evsig_spawn_options ok = { .file = "/bin/true", .argv = argv }, o;
    int pipes[3] = { 7, 7, 7 }, fds = count_fds();

    (void)unused;
    assert_fails_with(evsig_spawn(NULL, &ok, NULL, NULL, NULL), EINVAL);
    assert_fails_with(evsig_spawn(loop, NULL, NULL, NULL, NULL), EINVAL);
    o = ok;
    o.file = NULL;
    assert_fails_with(evsig_spawn(loop, &o, NULL, NULL, NULL), EINVAL);
    o = ok;
    o.argv = NULL;
    assert_fails_with(evsig_spawn(loop, &o, NULL, NULL, NULL), EINVAL);
    o = ok;
    o.flags = 0x800;
    assert_fails_with(evsig_spawn(loop, &o, NULL, NULL, NULL), EINVAL);
    o.flags = EVSIG_CHILD_PIDFD << 16;
    assert_fails_with(evsig_spawn(loop, &o, NULL, NULL, NULL), EINVAL);
    o = ok;
    o.stdio[1].mode = 4;
    assert_fails_with(evsig_spawn(loop, &o, pipes, NULL, NULL), EINVAL);
    o.stdio[1].mode = -1;
    assert_fails_with(evsig_spawn(loop, &o, pipes, NULL, NULL), EINVAL);
    o = ok;
    o.stdio[2] = (evsig_stdio){ EVSIG_STDIO_FD, -1 };
    assert_fails_with(evsig_spawn(loop, &o, pipes, NULL, NULL), EINVAL);
    o = ok;
    o.stdio[0].mode = EVSIG_STDIO_PIPE;
    assert_fails_with(evsig_spawn(loop, &o, NULL, NULL, NULL), EINVAL);
    /* A closed .fd: EBADF, also before anything is made. */
    o = ok;
    o.stdio[1] = (evsig_stdio){ EVSIG_STDIO_FD, 999 };
    assert_fails_with(evsig_spawn(loop, &o, pipes, NULL, NULL), EBADF);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pipes[i], -1);
    assert_int_equal(count_fds(), fds);
    assert_no_children();
}

static void test_at_the_fd_limit_a_spawn_is_emfile_with_nothing_left_behind(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    char *argv[] = { (char *)"true", NULL };
    evsig_spawn_options o = { .file = "/bin/true", .argv = argv };
    struct rlimit old, low;
    int held[64], n = 0, fds;

    (void)unused;
    o.stdio[1].mode = EVSIG_STDIO_PIPE;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)count_fds() + 20;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    /* Fill the table, then free two fds: not enough for a pipe's two ends
     * plus the error pipe. */
    while (n < 64 && (held[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        n++;
    assert_true(n >= 2 && n < 64);
    close(held[--n]);
    close(held[--n]);
    fds = count_fds();
    {
        int pipes[3];

        assert_fails_with(evsig_spawn(loop, &o, pipes, NULL, NULL), EMFILE);
        assert_int_equal(pipes[1], -1);
    }
    assert_int_equal(count_fds(), fds);
    while (n)
        close(held[--n]);
    setrlimit(RLIMIT_NOFILE, &old);
    assert_no_children();
}

/* --- watched as a fork_and_watch child ---------------------------------------- */

static void test_a_spawned_child_gets_the_sigchld_table_call_after_its_callback_and_can_be_killed(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct chld_log log = { 0 };
    struct exit_rec r = { 0 };
    int seq_table;
    pid_t pid;

    (void)unused;
    assert_succeeds(evsig_signal(loop, SIGCHLD, chld_handler, &log, NULL));
    pid = spawn_sh(loop, "exec sleep 30", NULL, NULL, &r, 0);
    assert_succeeds(evsig_kill(loop, pid, SIGTERM));
    assert_killed_by(wait_rec(loop, &r), SIGTERM);
    assert_true(TU_RUN_UNTIL(loop, log.calls >= 1, 5));
    assert_int_equal(chld_count(&log, pid), 1);
    assert_non_null(chld_find(&log, pid, &seq_table));
    assert_true(r.seq < seq_table);
    assert_succeeds(evsig_signal(loop, SIGCHLD, EVSIG_DFL, NULL, NULL));
}

static void test_a_noref_spawn_does_not_keep_ev_run_alive_but_is_still_reported(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct gate *g = gate_new();
    evsig_stdio io[3] = { { EVSIG_STDIO_FD, g->rd } };
    struct exit_rec r = { 0 }, r2 = { 0 };

    (void)unused;
    spawn_sh(loop, "read x; exit 3", io, NULL, &r, EVSIG_NOREF);
    assert_true(tu_ev_run_returns(loop, 2));   /* nothing holds the loop */
    assert_int_equal(r.calls, 0);
    gate_open(g);
    assert_exited(wait_rec(loop, &r), 3);
    /* Without NOREF ev_run() waits for it. */
    spawn_sh(loop, "exit 4", NULL, NULL, &r2, 0);
    assert_true(run_bounded(loop, 10) >= 0);
    assert_int_equal(r2.calls, 1);
    assert_exited(r2.status, 4);
}

struct thread_spawn {
    struct ev_loop *loop;
    struct exit_rec r;
    pthread_t thread;
    pid_t pid;
    int err;
};

static void *spawn_on_own_loop(void *arg)
{
    struct thread_spawn *t = arg;
    char *argv[] = { (char *)"sh", (char *)"-c", (char *)"exit 9", NULL };
    evsig_spawn_options o = { .file = "/bin/sh", .argv = argv };

    t->pid = evsig_spawn(t->loop, &o, NULL, rec_cb, &t->r);
    t->err = errno;
    if (t->pid > 0)
        ev_run(t->loop, 0);   /* until the child was reported */
    return NULL;
}

static void test_under_pidfd_a_spawn_on_a_loop_in_another_thread_is_reported_there(void **unused)
{
    struct thread_spawn t = { .loop = child_new_loop() };

    (void)unused;
    SKIP_UNLESS_BACKEND(EVSIG_CHILD_PIDFD, "children only on the default loop");
    assert_int_equal(pthread_create(&t.thread, NULL, spawn_on_own_loop, &t), 0);
    assert_int_equal(pthread_join(t.thread, NULL), 0);
    assert_true(t.pid > 0);
    assert_int_equal(t.r.calls, 1);
    assert_ptr_equal(t.r.loop, t.loop);
    assert_exited(t.r.status, 9);
}

static void test_under_libev_a_spawn_on_another_loop_is_einval(void **unused)
{
    char *argv[] = { (char *)"true", NULL };
    evsig_spawn_options o = { .file = "/bin/true", .argv = argv };

    (void)unused;
    SKIP_UNLESS_BACKEND(EVSIG_CHILD_LIBEV, "any loop works");
    assert_fails_with(evsig_spawn(child_new_loop(), &o, NULL, NULL, NULL), EINVAL);
    assert_no_children();
}

static void test_errno_is_left_alone_by_a_successful_spawn(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec r = { 0 };

    (void)unused;
    errno = EDOM;
    spawn_sh(loop, "exit 0", NULL, NULL, &r, 0);
    assert_int_equal(errno, EDOM);
    assert_exited(wait_rec(loop, &r), 0);
}

/* In a child of evsig_fork(): spawn there too (the parent's stack, pid
 * table and loop records are the parent's). */
static void test_the_child_of_evsig_fork_can_spawn(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec r = { 0 };
    int status = -1;
    pid_t c;

    (void)unused;
    spawn_sh(loop, "exit 0", NULL, NULL, &r, 0);   /* the stack exists */
    assert_exited(wait_rec(loop, &r), 0);
    c = evsig_fork(loop);
    assert_true(c >= 0);
    if (c == 0) {
        char *argv[] = { (char *)"sh", (char *)"-c", (char *)"exit 6", NULL };
        evsig_spawn_options o = { .file = "/bin/sh", .argv = argv };
        pid_t pid;

        child_begin(NULL);
        pid = evsig_spawn(loop, &o, NULL, NULL, NULL);
        TU_CHILD_CHECK(pid > 0);
        TU_CHILD_CHECK(evsig_waitpid(loop, pid, &status, 0) == pid);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 98);
    }
    assert_int_equal(evsig_waitpid_timeout(loop, c, &status, 20.0), c);
    assert_exited(status, 6);
}

static void test_spawn_works_again_after_evsig_reset(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec r = { 0 };

    (void)unused;
    spawn_sh(loop, "exit 0", NULL, NULL, &r, 0);
    assert_exited(wait_rec(loop, &r), 0);
    evsig_reset();
    memset(&r, 0, sizeof(r));
    spawn_sh(loop, "exit 8", NULL, NULL, &r, 0);
    assert_exited(wait_rec(loop, &r), 8);
}

/* --- other threads ------------------------------------------------------- */

struct forker {
    pthread_t thread;
    atomic_bool stop;
    int forks;
};

/* Plain fork()s of children that live 1 s holding whatever they inherit. */
static void *fork_loop(void *arg)
{
    struct forker *f = arg;

    while (!atomic_load(&f->stop)) {
        pid_t pid = fork();

        if (pid == 0) {
            struct timespec ts = { 1, 0 };

            nanosleep(&ts, NULL);
            _exit(0);
        }
        if (pid > 0) {
            f->forks++;
            waitpid(pid, NULL, WNOHANG);
        }
        usleep(2000);
    }
    return NULL;
}

/* Stop the forking thread and reap its children (under LIBEV the loop
 * reaped some); also at teardown, if an assertion left the test. */
static void stop_forker(void *arg)
{
    struct forker *f = arg;

    if (atomic_exchange(&f->stop, true))
        return;
    pthread_join(f->thread, NULL);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
}

static void test_spawns_while_another_thread_forks_leak_no_pipe_end_into_its_children(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    evsig_stdio io[3] = { [1] = { EVSIG_STDIO_PIPE, 0 } };
    static struct forker f;

    (void)unused;
    f.forks = 0;
    atomic_init(&f.stop, false);
    assert_int_equal(pthread_create(&f.thread, NULL, fork_loop, &f), 0);
    child_defer(stop_forker, &f);
    for (int i = 0; i < 30; i++) {
        struct exit_rec r = { 0 };
        int pipes[3];
        char buf[16];
        double t0 = ev_time();

        /* EOF on stdout comes when every copy of its write end is closed:
         * the command's at its exit -- and one a child of the other
         * thread's fork() got, held for a second, if the spawn let one
         * through while that end was open here. */
        spawn_sh(loop, "echo x", io, pipes, &r, 0);
        read_all(loop, pipes[1], buf, sizeof(buf));
        close(pipes[1]);
        assert_string_equal(buf, "x\n");
        assert_true(ev_time() - t0 < 0.9);
        assert_exited(wait_rec(loop, &r), 0);
    }
    stop_forker(&f);
    assert_true(f.forks > 0);
}

struct spawner {
    struct ev_loop *loop;
    pthread_t thread;
    int ok;
    atomic_bool done;
};

/* rec_cb() without the global clock (callbacks on two threads here). */
static void status_cb(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    struct exit_rec *r = data;

    r->calls++;
    r->pid = pid;
    r->status = status;
    r->loop = loop;
}

static void *spawn_twenty(void *arg)
{
    struct spawner *sp = arg;

    for (int i = 0; i < 20; i++) {
        char code[8], *argv[] = { (char *)"sh", (char *)"-c", code, NULL };
        evsig_spawn_options o = { .file = "/bin/sh", .argv = argv };
        struct exit_rec r = { 0 };

        snprintf(code, sizeof(code), "exit %d", i);
        if (evsig_spawn(sp->loop, &o, NULL, status_cb, &r) < 0)
            break;
        while (r.calls == 0)
            ev_run(sp->loop, EVRUN_ONCE);
        if (r.calls == 1 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == i)
            sp->ok++;
    }
    atomic_store(&sp->done, true);
    return NULL;
}

static void test_two_threads_spawn_on_their_loops_while_a_third_takes_signals(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct spawner a = { .loop = child_new_loop() }, b = { .loop = child_new_loop() };
    struct counter c = { 0 };
    evsig_watcher w;
    int sent = 0;

    (void)unused;
    SKIP_UNLESS_BACKEND(EVSIG_CHILD_PIDFD, "children only on the default loop");
    atomic_init(&a.done, false);
    atomic_init(&b.done, false);
    assert_succeeds(evsig_watch(loop, &w, SIGUSR1, count_cb, &c, 0));
    assert_int_equal(pthread_create(&a.thread, NULL, spawn_twenty, &a), 0);
    assert_int_equal(pthread_create(&b.thread, NULL, spawn_twenty, &b), 0);
    /* Signals for this process, taken by whichever thread has them
     * unblocked -- the spawning ones, between spawns. */
    while (!atomic_load(&a.done) || !atomic_load(&b.done)) {
        kill(getpid(), SIGUSR1);
        sent++;
        ev_run(loop, EVRUN_NOWAIT);
        usleep(500);
    }
    pthread_join(a.thread, NULL);
    pthread_join(b.thread, NULL);
    assert_int_equal(a.ok, 20);
    assert_int_equal(b.ok, 20);
    assert_true(TU_RUN_UNTIL(loop, c.calls >= 1, 5));
    assert_true(c.calls <= sent);
    evsig_unwatch(&w);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, spawn_setup, spawn_teardown)
    const struct CMUnitTest tests[] = {
        T(test_a_spawned_commands_exit_code_reaches_its_callback_and_waitpid),
        T(test_argv_and_envp_reach_the_command),
        T(test_a_null_envp_passes_the_callers_environment),
        T(test_a_name_is_searched_in_the_callers_path_or_in_envps),
        T(test_envp_without_path_still_finds_sh_in_bin),
        T(test_the_command_runs_in_cwd),
        T(test_pipes_connect_the_commands_stdin_stdout_and_stderr),
        T(test_devnull_gives_eof_on_stdin_and_swallows_output),
        T(test_stdio_fd_slots_may_swap_the_callers_own_fds_1_and_2),
        T(test_an_fd_slot_gives_the_command_a_copy_and_the_caller_keeps_its_fd),
        T(test_the_command_starts_with_every_signal_default_and_nothing_blocked),
        T(test_the_command_gets_fds_0_to_2_and_the_callers_inheritable_fds_only),
        T(test_setsid_and_setpgroup_give_the_command_its_session_or_group),
        T(test_exec_failures_are_the_calls_errors_with_no_child_zombie_or_fd_left),
        T(test_bad_input_is_einval_before_anything_is_made),
        T(test_at_the_fd_limit_a_spawn_is_emfile_with_nothing_left_behind),
        T(test_a_spawned_child_gets_the_sigchld_table_call_after_its_callback_and_can_be_killed),
        T(test_a_noref_spawn_does_not_keep_ev_run_alive_but_is_still_reported),
        T(test_under_pidfd_a_spawn_on_a_loop_in_another_thread_is_reported_there),
        T(test_under_libev_a_spawn_on_another_loop_is_einval),
        T(test_errno_is_left_alone_by_a_successful_spawn),
        T(test_the_child_of_evsig_fork_can_spawn),
        T(test_spawn_works_again_after_evsig_reset),
        T(test_spawns_while_another_thread_forks_leak_no_pipe_end_into_its_children),
        T(test_two_threads_spawn_on_their_loops_while_a_third_takes_signals),
    };
#undef T

    if (getenv("EVSIG_TEST_FILTER"))
        cmocka_set_test_filter(getenv("EVSIG_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
