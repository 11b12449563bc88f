// Starting a program from the multi-threaded supervisor without copying it: clone(2) with
// CLONE_VM | CLONE_VFORK (the child runs on a stack the caller lends, in the parent's memory,
// and the calling thread waits until it has exec'd or failed), then in the child only
// async-signal-safe calls: default dispositions, an empty mask, its own process group, exactly
// the listed descriptors, the working directory, groups, group and user, and execve. A failure
// in the child is written into the request (memory is shared) before it exits with 127.
#define _GNU_SOURCE
#include "CPortvisor.h"
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/// The listed descriptors are first copied to numbers at or above CP_SPAWN_MAX_FDS (the lowest
/// free ones there), so that putting them in place as 0, 1, 2, … never overwrites a source not
/// yet moved. Low on purpose: a copy at 1024 or more makes the kernel grow the child's copy of
/// the descriptor table past 1024 entries for every spawn (measured: about a quarter of the
/// supervisor's own CPU per exec connection).

static int fail(cp_spawn_request *request, int step) {
    request->error = errno;
    request->failed_step = step;
    _exit(127);
}

/// Writes `value` in decimal at `out` (for LISTEN_PID=); at most 20 digits.
static void write_decimal(char *out, long value) {
    char digits[24];
    int count = 0;
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0 && count < 20);
    for (int i = 0; i < count; i++) out[i] = digits[count - 1 - i];
    out[count] = 0;
}

static int child_main(void *argument) {
    cp_spawn_request *request = argument;
    // 1. Every signal at its default disposition (the supervisor ignores SIGPIPE), then an
    //    empty mask (every signal was blocked across clone, so no handler of the supervisor's
    //    can run in this shared memory).
    // The raw system call: the C library's sigaction refuses the signals it reserves for
    // itself (32 and 33), which a child must also get at their defaults.
    struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } defaults;
    memset(&defaults, 0, sizeof defaults);  // SIG_DFL, no flags, empty mask
    for (int signal_number = 1; signal_number < NSIG; signal_number++) {
        if (signal_number == SIGKILL || signal_number == SIGSTOP) continue;
        syscall(SYS_rt_sigaction, signal_number, &defaults, NULL, sizeof defaults.mask);
    }
    sigset_t empty;
    sigemptyset(&empty);
    if (sigprocmask(SIG_SETMASK, &empty, NULL) != 0) fail(request, CP_SPAWN_STEP_SIGNALS);
    // 2. Its own process group, so that stopping it reaches whatever it starts.
    if (request->new_process_group && setpgid(0, 0) != 0) fail(request, CP_SPAWN_STEP_PROCESS_GROUP);
    // 3. Exactly the listed descriptors, as 0, 1, 2, …: first out of the way (a source may be
    //    another's target), then into place; -1 means /dev/null.
    int moved[CP_SPAWN_MAX_FDS];
    for (int i = 0; i < request->fd_count; i++) {
        int source = request->fds[i];
        if (source < 0) {
            source = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (source < 0) fail(request, CP_SPAWN_STEP_DESCRIPTORS);
        }
        moved[i] = fcntl(source, F_DUPFD_CLOEXEC, CP_SPAWN_MAX_FDS);
        if (moved[i] < 0) fail(request, CP_SPAWN_STEP_DESCRIPTORS);
    }
    for (int i = 0; i < request->fd_count; i++) {
        if (dup2(moved[i], i) != i) fail(request, CP_SPAWN_STEP_DESCRIPTORS);  // dup2 clears FD_CLOEXEC
        if (request->blocking[i]) {
            int flags = fcntl(i, F_GETFL);
            if (flags < 0 || fcntl(i, F_SETFL, flags & ~O_NONBLOCK) != 0) fail(request, CP_SPAWN_STEP_DESCRIPTORS);
        }
    }
    if (syscall(SYS_close_range, (unsigned)request->fd_count, ~0U, 0) != 0) {
        // Before Linux 5.9: close one by one up to the limit.
        long limit = sysconf(_SC_OPEN_MAX);
        for (long fd = request->fd_count; fd < limit; fd++) close((int)fd);
    }
    // 4. Where it runs, and as whom (groups before the group, the group before the user).
    if (request->directory && chdir(request->directory) != 0) fail(request, CP_SPAWN_STEP_DIRECTORY);
    if (request->set_groups && setgroups((size_t)request->group_count, request->groups) != 0) fail(request, CP_SPAWN_STEP_GROUPS);
    if (request->set_gid && setgid(request->gid) != 0) fail(request, CP_SPAWN_STEP_GROUP);
    if (request->set_uid && setuid(request->uid) != 0) fail(request, CP_SPAWN_STEP_USER);
    // 5. LISTEN_PID= names this process (sd_listen_fds checks it).
    if (request->listen_pid_digits) write_decimal(request->listen_pid_digits, (long)getpid());
    execve(request->path, request->argv, request->envp);
    fail(request, CP_SPAWN_STEP_EXEC);
    return 127;
}

pid_t cp_spawn(cp_spawn_request *request, void *stack, size_t stack_size, int *pidfd) {
    if (request->fd_count < 0 || request->fd_count > CP_SPAWN_MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
    request->error = 0;
    request->failed_step = 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int descriptor = -1;
    // The stack grows down on every architecture Linux runs Portvisor on: pass its top, aligned.
    char *top = (char *)stack + stack_size;
    top = (char *)((unsigned long)top & ~15UL);
    pid_t pid = clone(child_main, top, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, request, &descriptor);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        errno = saved;
        return -1;
    }
    if (request->error != 0) {
        // The child failed before exec and has exited: reap it here, report why.
        siginfo_t info;
        if (descriptor >= 0) {
            waitid((idtype_t)P_PIDFD, (id_t)descriptor, &info, WEXITED);
            close(descriptor);
        } else {
            waitpid(pid, NULL, 0);
        }
        errno = request->error;
        return -1;
    }
    *pidfd = descriptor;
    return pid;
}

int cp_pidfd_wait(int pidfd, int *code, int *status, int *pid) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOHANG) != 0) return -1;
    if (info.si_pid == 0) return 0;  // still running
    *code = info.si_code;
    *status = info.si_status;
    *pid = info.si_pid;
    return 1;
}

int cp_wait_any(int *code, int *status, int *pid) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG) != 0) return -1;
    if (info.si_pid == 0) return 0;
    *code = info.si_code;
    *status = info.si_status;
    *pid = info.si_pid;
    return 1;
}

int cp_wait_pid(pid_t target, int *code, int *status) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)target, &info, WEXITED | WNOHANG) != 0) return -1;
    if (info.si_pid == 0) return 0;
    *code = info.si_code;
    *status = info.si_status;
    return 1;
}

int cp_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int cp_pidfd_send_signal(int pidfd, int signal_number) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signal_number, NULL, 0);
}

int cp_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
