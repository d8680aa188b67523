/* SPDX-License-Identifier: MIT */
/*
 * test-child-wait-h.c - evsig.h brings <sys/wait.h> with it (DESIGN.md
 * §3.3): a program that only includes evsig.h decodes the statuses its
 * child callbacks get. This file includes nothing else on purpose; it is
 * linked into test-child, whose test reads the answer. The check is made
 * at run time, so that the suite still builds (and the test fails) where
 * the header falls short.
 */
#include "evsig.h"

int evsig_h_wait_decode(int status);

/*
 * WEXITSTATUS(@status) for a normal exit, 1000 + WTERMSIG(@status) for a
 * death by signal; -1 if evsig.h did not define the wait macros, -2 if it
 * defined them without <sys/wait.h> (glibc's <stdlib.h> alone has them,
 * but not waitpid() or waitid()).
 */
int evsig_h_wait_decode(int status)
{
#if defined(WIFEXITED) && defined(WEXITSTATUS) && defined(WIFSIGNALED) && \
    defined(WTERMSIG) && defined(WNOHANG) && defined(WEXITED)
#ifdef _SYS_WAIT_H
    pid_t (*wp)(pid_t, int *, int) = waitpid;
    int (*wi)(idtype_t, id_t, siginfo_t *, int) = waitid;

    (void)wp;   /* both declared: that is what the check is about */
    (void)wi;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 1000 + WTERMSIG(status);
    return -3;
#else
    (void)status;
    return -2;
#endif
#else
    (void)status;
    return -1;
#endif
}
