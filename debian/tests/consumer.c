/* SPDX-License-Identifier: MIT */
/*
 * A program that uses evsig as a user of the packages does: built with
 * `pkg-config --cflags --libs evsig` (debian/tests/consumer), against the
 * shared and the static library. It takes a signal on libev's default loop
 * (sender's pid in the siginfo) and runs a command with evsig_spawn(),
 * waiting for it with evsig_waitpid(). Exit 0 and one line when all is well.
 */
#define _POSIX_C_SOURCE 200809L   /* built with -std=c11 */

#include <evsig.h>

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_usr1(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    *(pid_t *)data = info->pid;
}

static int fail(const char *what)
{
    perror(what);
    return 1;
}

int main(void)
{
    struct ev_loop *loop = ev_default_loop(0);
    pid_t sender = 0;

    if (!loop)
        return fail("ev_default_loop");
    if (evsig_signal(loop, SIGUSR1, on_usr1, &sender, NULL) != 0)
        return fail("evsig_signal");
    if (kill(getpid(), SIGUSR1) != 0)
        return fail("kill");
    while (sender == 0)
        ev_run(loop, EVRUN_ONCE);
    if (sender != getpid()) {
        fprintf(stderr, "SIGUSR1 from %ld, not from %ld\n", (long)sender,
                (long)getpid());
        return 1;
    }

    char *const argv[] = {"sh", "-c", "exit 7", NULL};
    evsig_spawn_options opts = {.file = "sh", .argv = argv};
    pid_t pid = evsig_spawn(loop, &opts, NULL, NULL, NULL);
    int status;
    if (pid < 0)
        return fail("evsig_spawn");
    if (evsig_waitpid(loop, pid, &status, 0) != pid)
        return fail("evsig_waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 7) {
        fprintf(stderr, "sh -c 'exit 7' ended with status %#x\n", status);
        return 1;
    }
    if (evsig_reset() != 0)
        return fail("evsig_reset");

    printf("consumer: evsig %d.%d, %s from itself, spawned sh exited 7\n",
           EVSIG_VERSION_MAJOR, EVSIG_VERSION_MINOR, evsig_signame(SIGUSR1));
    return 0;
}
