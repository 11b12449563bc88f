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
#include <sys/resource.h>
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

// The child runs in the supervisor's memory (CLONE_VM) on the calling thread's TLS until it
// execs, so it makes raw system calls only. The C library's wrappers assume they run in the
// process whose memory this is: its setuid, setgid and setgroups walk the supervisor's thread
// list for their set-ID broadcast (the signals happen to miss from the child, which is another
// process), and under a sanitizer every wrapper is intercepted and records the child's descriptor
// changes as the parent's. `errno` is set by syscall(2) itself.
#define CHILD __attribute__((no_sanitize("thread")))

CHILD static int fail(cp_spawn_request *request, int step) {
    request->error = errno;
    request->failed_step = step;
    syscall(SYS_exit_group, 127);
    return 127;
}

/// Writes `value` in decimal at `out` (for LISTEN_PID=); at most 20 digits.
CHILD static void write_decimal(char *out, long value) {
    char digits[24];
    int count = 0;
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0 && count < 20);
    for (int i = 0; i < count; i++) out[i] = digits[count - 1 - i];
    out[count] = 0;
}

CHILD static int child_main(void *argument) {
    cp_spawn_request *request = argument;
    // 1. Every signal at its default disposition (the supervisor ignores SIGPIPE), then an
    //    empty mask (every signal was blocked across clone, so no handler of the supervisor's
    //    can run in this shared memory). Raw: the C library's sigaction refuses the signals it
    //    reserves for itself (32 and 33), which a child must also get at their defaults.
    struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } defaults;
    for (unsigned i = 0; i < sizeof defaults; i++) ((volatile char *)&defaults)[i] = 0;  // SIG_DFL, no flags, empty mask
    for (int signal_number = 1; signal_number < NSIG; signal_number++) {
        if (signal_number == SIGKILL || signal_number == SIGSTOP) continue;
        syscall(SYS_rt_sigaction, signal_number, &defaults, NULL, sizeof defaults.mask);
    }
    unsigned long empty = 0;
    if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, sizeof empty) != 0) fail(request, CP_SPAWN_STEP_SIGNALS);
    // 2. Its own process group.
    if (request->new_process_group && syscall(SYS_setpgid, 0, 0) != 0) fail(request, CP_SPAWN_STEP_PROCESS_GROUP);
    // 3. The listed descriptors as 0, 1, 2, …: each first copied to a free number at or above
    //    CP_SPAWN_MAX_FDS (so none is overwritten before it has moved), then into place, where
    //    dup3 clears close-on-exec; -1 means /dev/null. Then every other descriptor is closed.
    int moved[CP_SPAWN_MAX_FDS];
    for (int i = 0; i < request->fd_count; i++) {
        long source = request->fds[i];
        if (source < 0) {
            source = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC);
            if (source < 0) fail(request, CP_SPAWN_STEP_DESCRIPTORS);
        }
        moved[i] = (int)syscall(SYS_fcntl, source, F_DUPFD_CLOEXEC, CP_SPAWN_MAX_FDS);
        if (moved[i] < 0) fail(request, CP_SPAWN_STEP_DESCRIPTORS);
    }
    for (int i = 0; i < request->fd_count; i++) {
        if (syscall(SYS_dup3, moved[i], i, 0) != i) fail(request, CP_SPAWN_STEP_DESCRIPTORS);
        if (request->blocking[i]) {
            long flags = syscall(SYS_fcntl, i, F_GETFL);
            if (flags < 0 || syscall(SYS_fcntl, i, F_SETFL, flags & ~O_NONBLOCK) != 0) fail(request, CP_SPAWN_STEP_DESCRIPTORS);
        }
    }
    if (syscall(SYS_close_range, (unsigned)request->fd_count, ~0U, 0) != 0) {
        struct rlimit limit = { 1024, 1024 };
        syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &limit);
        for (unsigned long fd = (unsigned long)request->fd_count; fd < limit.rlim_cur && fd < (1UL << 20); fd++) syscall(SYS_close, fd);
    }
    // 4. Directory, then groups, group and user (the user last: after it the others may fail).
    if (request->directory && syscall(SYS_chdir, request->directory) != 0) fail(request, CP_SPAWN_STEP_DIRECTORY);
    if (request->set_groups && syscall(SYS_setgroups, (long)request->group_count, request->groups) != 0) fail(request, CP_SPAWN_STEP_GROUPS);
    if (request->set_gid && syscall(SYS_setgid, (long)request->gid) != 0) fail(request, CP_SPAWN_STEP_GROUP);
    if (request->set_uid && syscall(SYS_setuid, (long)request->uid) != 0) fail(request, CP_SPAWN_STEP_USER);
    if (request->listen_pid_digits) write_decimal(request->listen_pid_digits, syscall(SYS_getpid));
    syscall(SYS_execve, request->path, request->argv, request->envp);
    fail(request, CP_SPAWN_STEP_EXEC);
    return 127;
}

// Under ThreadSanitizer the C library's clone is intercepted and handled like fork, which
// aborts for a CLONE_VM child of a threaded process: call the library's own clone instead.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#include <dlfcn.h>
typedef int (*clone_function)(int (*)(void *), void *, int, void *, ...);
static clone_function library_clone(void) {
    static clone_function found;
    if (!found) found = (clone_function)dlsym(RTLD_NEXT, "clone");
    return found;
}
#define CP_CLONE (library_clone())
#endif
#endif
#ifndef CP_CLONE
#define CP_CLONE clone
#endif

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
    pid_t pid = CP_CLONE(child_main, top, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, request, &descriptor);
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
