/* SPDX-License-Identifier: MIT */
/*
 * spawn.c - evsig_spawn(): run a command and watch it.
 *
 * The process is made the way vfork() and glibc's posix_spawn() make one:
 * clone(CLONE_VM | CLONE_VFORK), so the child borrows the caller's memory
 * until it execs -- no page table is copied and no page of the caller is
 * faulted, whatever the size of its heap (fork() then exec() costs ~50x
 * that with a 1 GiB heap) -- and with CLONE_PIDFD, so the PIDFD backend
 * has the child's pidfd from its birth. The calling thread is suspended
 * until the child execs or exits; the child runs child_main() on a stack of
 * its own (kept between spawns: the lock makes them one at a time) with
 * the caller's memory under it, so it does only what is safe there: raw
 * system calls, no allocation, no lock, no libc state, and it writes no
 * memory but its own stack. Other threads of the caller run on meanwhile;
 * none of what the child reads changes under the lock.
 *
 * A failure in the child (the exec, or a step before it) is reported
 * through a close-on-exec pipe: 4 bytes of errno, or nothing (end of file)
 * once the exec closed it. A pipe rather than a word in the shared memory:
 * valgrind runs a CLONE_VM|CLONE_VFORK child as a fork() child, where
 * memory is not shared. The failed child is reaped here at once.
 *
 * What the child gets on fds 0-2 is prepared in the parent: each source
 * (a pipe end, /dev/null, the caller's fd) is moved to a number >= 3 if it
 * is below, so the child's dup3() onto 0, 1 and 2 never overwrites a
 * source it still needs and always clears FD_CLOEXEC; the error pipe is
 * >= 3 too. Everything opened here is close-on-exec and made, used and
 * closed under evsig's lock, which a fork() in another thread waits for
 * (core.c's atfork handler): no other child keeps a pipe end it should not.
 *
 * Layering: on top of child.c (evsig__child_begin/adopt: the same watch as
 * evsig_fork_and_watch()); below evsig.c (the reset). Context: any thread,
 * lock held from validation on.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evsig-private.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

#define STACK_SIZE (64 * 1024)   /* child_main() needs a PATH_MAX buffer */
#define KNOWN_FLAGS (EVSIG_NOREF | EVSIG_SPAWN_SETSID | EVSIG_SPAWN_SETPGROUP | \
                     EVSIG_SPAWN_CLOSE_FDS)

/* The kernel's struct sigaction, for rt_sigaction() without libc. */
struct kernel_sigaction {
    void          (*handler)(int);
    unsigned long   flags;
    void          (*restorer)(void);
    uint64_t        mask;
};

/* What the child reads. Built on the caller's stack before clone(). */
struct child_args {
    const char   *file;
    size_t        file_len;
    char *const  *argv;
    char *const  *envp;
    const char   *path;      /* the PATH to search, NULL: @file is a path */
    const char   *cwd;
    int           src[3];    /* the fd dup'ed onto 0, 1, 2 (>= 3), or -1 */
    int           flags;
    int           errfd;     /* the error pipe's write end (>= 3) */
    int           maxfd;     /* without close_range(): close up to this */
};

static struct spawn_state {
    void *stack;             /* STACK_SIZE above a guard page, or NULL */
} sp;

/* --- in the child: raw system calls only ------------------------------- */

#define CHILD __attribute__((noinline, \
                             no_sanitize("address", "thread", "undefined")))

/* errno as the raw call left it, then out: never returns. */
CHILD static void child_fail(const struct child_args *a)
{
    int err = errno;

    (void)syscall(SYS_write, a->errfd, &err, sizeof(err));
    for (;;)
        (void)syscall(SYS_exit, 127);
}

/* Every fd >= 3 but the error pipe. */
CHILD static void child_close_fds(const struct child_args *a)
{
    bool ok = true;

    if (a->errfd > 3)
        ok = syscall(SYS_close_range, 3, a->errfd - 1, 0) == 0;
    if (ok)
        ok = syscall(SYS_close_range, a->errfd + 1, ~0U, 0) == 0;
    if (!ok)   /* before Linux 5.9 */
        for (int fd = 3; fd <= a->maxfd; fd++)
            if (fd != a->errfd)
                (void)syscall(SYS_close, fd);
}

/* execvp()'s search, without its /bin/sh retry: ENOEXEC is the caller's
 * error. Returns with errno set: EACCES if a match could not be run and
 * nothing better was found, else ENOENT, or the first other error. */
CHILD static void child_exec_path(const struct child_args *a)
{
    char buf[PATH_MAX];
    const char *p = a->path;
    bool denied = false;

    for (;;) {
        const char *end = p;
        size_t dlen, n = 0;

        while (*end && *end != ':')
            end++;
        dlen = (size_t)(end - p);
        if (dlen + 1 + a->file_len < sizeof(buf)) {
            for (size_t i = 0; i < dlen; i++)
                buf[n++] = p[i];
            if (dlen)                /* an empty entry: the cwd */
                buf[n++] = '/';
            for (size_t i = 0; i < a->file_len; i++)
                buf[n++] = a->file[i];
            buf[n] = '\0';
            (void)syscall(SYS_execve, buf, a->argv, a->envp);
            switch (errno) {
            case EACCES:
                denied = true;
                break;
            case ENOENT: case ENOTDIR: case ESTALE: case ELOOP:
            case ENAMETOOLONG: case ENODEV: case ETIMEDOUT:
                break;
            default:
                return;
            }
        }
        if (!*end)
            break;
        p = end + 1;
    }
    errno = denied ? EACCES : ENOENT;
}

CHILD static int child_main(void *arg)
{
    const struct child_args *a = arg;
    struct kernel_sigaction dfl = { .handler = SIG_DFL };
    uint64_t none = 0;

    /* Signals stay blocked (the caller's lock blocked them all) until
     * every one is at its default action: no handler of the caller runs
     * here, on its memory. An ignore would survive exec(): reset too. */
    for (int sig = 1; sig <= 64; sig++)
        (void)syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(none));
    if (a->flags & EVSIG_SPAWN_SETSID) {
        if (syscall(SYS_setsid) < 0)
            child_fail(a);
    } else if (a->flags & EVSIG_SPAWN_SETPGROUP) {
        if (syscall(SYS_setpgid, 0, 0) < 0)
            child_fail(a);
    }
    for (int i = 0; i < 3; i++)
        if (a->src[i] >= 0 && syscall(SYS_dup3, a->src[i], i, 0) < 0)
            child_fail(a);
    if (a->cwd && syscall(SYS_chdir, a->cwd) < 0)
        child_fail(a);
    if (a->flags & EVSIG_SPAWN_CLOSE_FDS)
        child_close_fds(a);
    (void)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(none));
    if (a->path)
        child_exec_path(a);
    else
        (void)syscall(SYS_execve, a->file, a->argv, a->envp);
    child_fail(a);
    return 127;
}

/* --- in the parent -------------------------------------------------------- */

static int check_options(struct ev_loop *loop, const evsig_spawn_options *o,
                         const int *pipes)
{
    if (!loop || !o || !o->file || !o->argv || (o->flags & ~KNOWN_FLAGS))
        return -EINVAL;
    for (int i = 0; i < 3; i++) {
        switch (o->stdio[i].mode) {
        case EVSIG_STDIO_INHERIT:
        case EVSIG_STDIO_DEVNULL:
            break;
        case EVSIG_STDIO_PIPE:
            if (!pipes)
                return -EINVAL;
            break;
        case EVSIG_STDIO_FD:
            if (o->stdio[i].fd < 0)
                return -EINVAL;
            if (fcntl(o->stdio[i].fd, F_GETFD) < 0)
                return -EBADF;
            break;
        default:
            return -EINVAL;
        }
    }
    return 0;
}

/* The PATH to search for @file, or NULL when @file is a path. */
static const char *search_path(const evsig_spawn_options *o)
{
    const char *path = NULL;

    if (strchr(o->file, '/') || !*o->file)
        return NULL;
    if (o->envp) {
        for (char *const *e = o->envp; *e; e++)
            if (strncmp(*e, "PATH=", 5) == 0)
                path = *e + 5;
    } else {
        path = getenv("PATH");
    }
    return path ? path : "/bin:/usr/bin";
}

static int stack_ready(void)
{
    long page = sysconf(_SC_PAGESIZE);
    void *p;

    if (sp.stack)
        return 0;
    p = mmap(NULL, STACK_SIZE + (size_t)page, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (p == MAP_FAILED)
        return -ENOMEM;
    /* A guard below: an overflow must fault, not write the caller's memory. */
    if (mprotect(p, (size_t)page, PROT_NONE) < 0) {
        munmap(p, STACK_SIZE + (size_t)page);
        return -ENOMEM;
    }
    sp.stack = p;
    return 0;
}

/* @fd itself if it is >= 3, else a close-on-exec copy >= 3 (@fd closed
 * when @own). Negative errno on failure (@fd closed when @own). */
static int fd_above_stdio(int fd, bool own)
{
    int high;

    if (fd >= 3)
        return fd;
    high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (high < 0)
        high = -errno;
    if (own)
        close(fd);
    return high;
}

/* What one spawn opened, to close on every path. */
struct spawn_fds {
    int mine[3];      /* the caller's pipe ends */
    int theirs[3];    /* the child's sources (>= 3), or -1 */
    bool close_theirs[3];   /* opened here (not the caller's own .fd) */
    int err[2];       /* the error pipe */
};

static void fds_init(struct spawn_fds *f)
{
    for (int i = 0; i < 3; i++) {
        f->mine[i] = f->theirs[i] = -1;
        f->close_theirs[i] = false;
    }
    f->err[0] = f->err[1] = -1;
}

static void close_if(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Everything but the caller's pipe ends (kept on success). */
static void fds_close_temporary(struct spawn_fds *f)
{
    for (int i = 0; i < 3; i++) {
        if (!f->close_theirs[i])
            continue;
        /* /dev/null is shared by the slots that want it: close it once. */
        for (int j = i + 1; j < 3; j++)
            if (f->theirs[j] == f->theirs[i])
                f->close_theirs[j] = false;
        close_if(&f->theirs[i]);
    }
    close_if(&f->err[0]);
    close_if(&f->err[1]);
}

static int make_pipe(struct spawn_fds *f, int i)
{
    int p[2], child_end, mine;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    child_end = i == 0 ? p[0] : p[1];
    mine = i == 0 ? p[1] : p[0];
    f->mine[i] = mine;
    if (fcntl(mine, F_SETFL, fcntl(mine, F_GETFL) | O_NONBLOCK) < 0) {
        int err = -errno;

        close(child_end);
        return err;
    }
    f->theirs[i] = fd_above_stdio(child_end, true);
    if (f->theirs[i] < 0)
        return f->theirs[i];
    f->close_theirs[i] = true;
    return 0;
}

/* The child's fds 0-2 and the error pipe. Negative errno or 0. */
static int make_fds(const evsig_spawn_options *o, struct spawn_fds *f)
{
    int devnull = -1, r;

    for (int i = 0; i < 3; i++) {
        switch (o->stdio[i].mode) {
        case EVSIG_STDIO_PIPE:
            if ((r = make_pipe(f, i)) < 0)
                return r;
            break;
        case EVSIG_STDIO_DEVNULL:
            if (devnull < 0) {
                devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (devnull < 0)
                    return -errno;
                devnull = fd_above_stdio(devnull, true);
                if (devnull < 0)
                    return devnull;
            }
            f->theirs[i] = devnull;
            f->close_theirs[i] = true;
            break;
        case EVSIG_STDIO_FD:
            /* Always a copy if below 3: also for .fd == i, so that dup3()
             * in the child clears its FD_CLOEXEC. */
            f->theirs[i] = fd_above_stdio(o->stdio[i].fd, false);
            if (f->theirs[i] < 0)
                return f->theirs[i];
            f->close_theirs[i] = f->theirs[i] != o->stdio[i].fd;
            break;
        default:
            break;
        }
    }
    if (pipe2(f->err, O_CLOEXEC) < 0)
        return -errno;
    if ((f->err[1] = fd_above_stdio(f->err[1], true)) < 0)
        return f->err[1];
    return 0;
}

/* Make the child and learn whether its exec worked. Returns its pid (with
 * *@pidfd, or -1) or a negative errno, the failed child reaped. */
/*
 * ThreadSanitizer intercepts clone() and runs its fork bookkeeping for a
 * CLONE_VM child, whose memory is the parent's: the parent's view of its
 * own mutexes and threads is then wrong. Under it the child is made
 * fork()-like instead (the error pipe works either way); the cost then
 * grows with the heap again, which only that build pays.
 */
#if defined(__SANITIZE_THREAD__)
#define VFORK_FLAGS 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VFORK_FLAGS 0
#endif
#endif
#ifndef VFORK_FLAGS
#define VFORK_FLAGS (CLONE_VM | CLONE_VFORK)
#endif

static pid_t start(struct child_args *a, int *fds_err, int *pidfd)
{
    char *top = (char *)sp.stack + sysconf(_SC_PAGESIZE) + STACK_SIZE;
    int flags = VFORK_FLAGS | SIGCHLD;
    int err = 0;
    ssize_t n;
    pid_t pid;

    *pidfd = -1;
    if (evsig__child_wants_pidfd())
        flags |= CLONE_PIDFD;
    pid = clone(child_main, top, flags, a, pidfd);
    if (pid < 0 && (flags & CLONE_PIDFD) &&
        (errno == EINVAL || errno == EMFILE || errno == ENFILE)) {
        /* A kernel before 5.2, or no fd left for the pidfd: no child was
         * made; the backend opens the pidfd itself or, failing that,
         * watches the child without one (no spawn fails for want of a
         * pidfd, as no fork does). */
        *pidfd = -1;
        pid = clone(child_main, top, flags & ~CLONE_PIDFD, a, NULL);
    }
    if (pid < 0)
        return -errno;
    close_if(&fds_err[1]);
    do
        n = read(fds_err[0], &err, sizeof(err));
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(err))
        return pid;   /* end of file: the exec closed it */
    if (*pidfd >= 0) {
        siginfo_t si;

        while (waitid(P_PIDFD, (id_t)*pidfd, &si, WEXITED) < 0 &&
               errno == EINTR)
            ;
        close_if(pidfd);
    } else {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    return err > 0 ? -err : -EIO;
}

EVSIG_PUBLIC pid_t evsig_spawn(struct ev_loop *loop,
                               const evsig_spawn_options *opts, int pipes[3],
                               evsig_child_cb cb, void *data)
{
    struct child_args a;
    struct spawn_fds f;
    sigset_t old;
    int saved = errno, pidfd = -1, r;
    pid_t pid = -1;

    if (pipes)
        pipes[0] = pipes[1] = pipes[2] = -1;
    fds_init(&f);
    evsig__lock(&old);
    r = check_options(loop, opts, pipes);
    if (r == 0)
        r = evsig__child_begin(loop);
    if (r == 0)
        r = stack_ready();
    if (r == 0)
        r = make_fds(opts, &f);
    if (r == 0)
        r = evsig__child_ready(loop);
    if (r == 0) {
        memset(&a, 0, sizeof(a));
        a.file = opts->file;
        a.file_len = strlen(opts->file);
        a.argv = opts->argv;
        a.envp = opts->envp ? opts->envp : environ;
        a.path = search_path(opts);
        a.cwd = opts->cwd;
        for (int i = 0; i < 3; i++)
            a.src[i] = f.theirs[i];
        a.flags = opts->flags;
        a.errfd = f.err[1];
        if (opts->flags & EVSIG_SPAWN_CLOSE_FDS)   /* a getrlimit() call */
            a.maxfd = (int)sysconf(_SC_OPEN_MAX);
        pid = start(&a, f.err, &pidfd);
        if (pid < 0)
            r = (int)pid;
    }
    fds_close_temporary(&f);
    if (r == 0) {
        evsig__child_adopt(loop, pid, pidfd, cb, data,
                           opts->flags & EVSIG_NOREF);
        if (pipes)
            for (int i = 0; i < 3; i++)
                pipes[i] = f.mine[i];
    } else {
        for (int i = 0; i < 3; i++)
            close_if(&f.mine[i]);
    }
    evsig__unlock(&old);
    if (r < 0)
        return evsig__fail(r);
    if (errno != saved)
        errno = saved;
    return pid;
}

void evsig__spawn_reset(void)
{
    if (sp.stack)
        munmap(sp.stack, STACK_SIZE + (size_t)sysconf(_SC_PAGESIZE));
    sp.stack = NULL;
}
