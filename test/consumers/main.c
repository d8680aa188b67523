/* SPDX-License-Identifier: MIT */
/*
 * main.c - a program built against an installed evsig, as its users build
 * theirs: with CMake's find_package(evsig), meson's dependency('evsig') or
 * pkg-config (cmake/, meson/, pkgconfig/; run.sh builds and runs each).
 *
 * It uses the library for real and exits 0 only if all of it worked: a
 * raised SIGUSR1 reaches a watcher on the loop, and /bin/true started by
 * evsig_spawn() is reaped with exit status 0. A timer ends a run that
 * would hang.
 */
#include <evsig.h>
#include <stdio.h>
#include <stdlib.h>

static int delivered;
static pid_t exited;
static int exit_status = -1;

static void on_usr1(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    (void)data;
    delivered = info->signo;
}

static void on_exit_status(struct ev_loop *loop, pid_t pid, int status,
                           void *data)
{
    (void)loop;
    (void)data;
    exited = pid;
    exit_status = status;
}

static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
    fprintf(stderr, "consumer: timed out\n");
    exit(1);
}

static int fail(const char *what)
{
    perror(what);
    return 1;
}

int main(void)
{
    struct ev_loop *loop = ev_default_loop(0);
    evsig_watcher w;
    ev_timer timeout;

    if (!loop)
        return fail("ev_default_loop");
    ev_timer_init(&timeout, on_timeout, 10.0, 0.0);
    ev_timer_start(loop, &timeout);
    ev_unref(loop);   /* the timer alone does not keep ev_run() going */

    /* A oneshot watcher keeps ev_run() alive until its delivery. */
    if (evsig_watch(loop, &w, SIGUSR1, on_usr1, NULL, EVSIG_ONESHOT) == -1)
        return fail("evsig_watch");
    if (raise(SIGUSR1) != 0)
        return fail("raise");
    ev_run(loop, 0);
    if (delivered != SIGUSR1) {
        fprintf(stderr, "consumer: SIGUSR1 not delivered\n");
        return 1;
    }

    /* A watched child keeps ev_run() alive until it is reaped. */
    char *argv[] = { (char *)"true", NULL };
    evsig_spawn_options opts = { .file = "/bin/true", .argv = argv };
    pid_t pid = evsig_spawn(loop, &opts, NULL, on_exit_status, NULL);
    if (pid == -1)
        return fail("evsig_spawn");
    ev_run(loop, 0);
    if (exited != pid || !WIFEXITED(exit_status) || WEXITSTATUS(exit_status) != 0) {
        fprintf(stderr, "consumer: /bin/true (pid %d): status %#x\n",
                (int)pid, exit_status);
        return 1;
    }

    printf("consumer: evsig %d.%d: %s delivered, /bin/true exited 0\n",
           EVSIG_VERSION_MAJOR, EVSIG_VERSION_MINOR, evsig_signame(delivered));
    evsig_reset();
    return 0;
}
