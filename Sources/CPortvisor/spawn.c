// Starting a program from the multi-threaded supervisor without copying it: clone(2) with
// CLONE_VM (the child runs on a stack the caller lends, in the parent's memory), then in the
// child only raw system calls: default dispositions, an empty mask, its own process group,
// exactly the listed descriptors, the working directory, groups, group and user, and execve. A
// failure in the child is written into the request (memory is shared) before it exits with 127.
//
// cp_spawn adds CLONE_VFORK: the calling thread waits until the child has exec'd or failed.
// cp_spawn_detached adds CLONE_CHILD_CLEARTID instead and returns at once: the child execs on
// another core while the caller goes on, and the kernel clears request->child_tid when the child
// no longer uses the request or the stack (at its execve, or its end). Until then the caller
// must leave both alone; a failure is known from request->error once settled.
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
// execs, so it makes raw system calls only, through the inline `raw` below: no C library
// wrapper, not even syscall(2), which sets the calling thread's errno (in a detached spawn the
// parent's thread runs on and owns that errno). The C library's set-ID wrappers would also walk
// the supervisor's thread list for their broadcast, and under a sanitizer every wrapper is
// intercepted and records the child's descriptor changes as the parent's; CHILD turns off all
// sanitizer instrumentation (ThreadSanitizer's function entry and exit hooks included, which
// write the parent thread's state).
#if defined(__has_attribute) && __has_attribute(disable_sanitizer_instrumentation)
#define CHILD __attribute__((disable_sanitizer_instrumentation, no_sanitize("thread")))
#else
#define CHILD __attribute__((no_sanitize("thread")))
#endif

#if defined(__x86_64__)
#define CP_SPAWN_RAW 1
CHILD static inline long raw(long number, long a, long b, long c, long d, long e) {
    long result;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    __asm__ volatile("syscall" : "=a"(result) : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
    return result;
}
#elif defined(__aarch64__)
#define CP_SPAWN_RAW 1
CHILD static inline long raw(long number, long a, long b, long c, long d, long e) {
    register long x8 __asm__("x8") = number;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
    return x0;
}
#else
// Elsewhere syscall(2), which writes errno: spawns wait for the child (cp_spawn_detached waits
// too), so the parent's thread is stopped meanwhile and its errno is not in use.
#define CP_SPAWN_RAW 0
CHILD static long raw(long number, long a, long b, long c, long d, long e) {
    long result = syscall(number, a, b, c, d, e);
    return result == -1 ? -errno : result;
}
#endif
/// A system call in the child: the result, or -errno.
#define SYS(number, ...) raw_call(number, __VA_ARGS__, 0, 0, 0, 0, 0)
#define raw_call(number, a, b, c, d, e, ...) raw((long)(number), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e))

CHILD static void fail(cp_spawn_request *request, int step, long result) {
    request->error = (int)-result;
    request->failed_step = step;
    for (;;) SYS(SYS_exit_group, 127);
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
    long result;
    // 1. Every signal at its default disposition, then an empty mask (every signal was blocked
    //    across clone, so no handler of the supervisor's can run in this shared memory). Only
    //    the signals the parent found not at their default (ignored, as SIGPIPE is, or caught,
    //    as the runtime's crash handlers are) need it: a system call for each of the 62 others
    //    cost the waiting parent about a quarter of its spawn time. The C library's sigaction
    //    would refuse the signals it reserves for itself (32 and 33).
    struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } defaults;
    for (unsigned i = 0; i < sizeof defaults; i++) ((volatile char *)&defaults)[i] = 0;  // SIG_DFL, no flags, empty mask
    for (int signal_number = 1; signal_number <= 64; signal_number++) {
        if (!(request->reset_signals & (1ULL << (signal_number - 1)))) continue;
        if ((result = SYS(SYS_rt_sigaction, signal_number, &defaults, 0, sizeof defaults.mask)) < 0) fail(request, CP_SPAWN_STEP_SIGNALS, result);
    }
    unsigned long empty = 0;
    if ((result = SYS(SYS_rt_sigprocmask, SIG_SETMASK, &empty, 0, sizeof empty)) < 0) fail(request, CP_SPAWN_STEP_SIGNALS, result);
    // 2. Its own process group.
    if (request->new_process_group && (result = SYS(SYS_setpgid, 0, 0)) < 0) fail(request, CP_SPAWN_STEP_PROCESS_GROUP, result);
    // 3. The listed descriptors as 0, 1, 2, …: each first copied to a free number at or above
    //    CP_SPAWN_MAX_FDS (so none is overwritten before it has moved), then into place, where
    //    dup3 clears close-on-exec; -1 means /dev/null. Then every other descriptor is closed.
    int moved[CP_SPAWN_MAX_FDS];
    for (int i = 0; i < request->fd_count; i++) {
        long source = request->fds[i];
        if (source < 0) {
            source = SYS(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC);
            if (source < 0) fail(request, CP_SPAWN_STEP_DESCRIPTORS, source);
        }
        if ((result = SYS(SYS_fcntl, source, F_DUPFD_CLOEXEC, CP_SPAWN_MAX_FDS)) < 0) fail(request, CP_SPAWN_STEP_DESCRIPTORS, result);
        moved[i] = (int)result;
    }
    for (int i = 0; i < request->fd_count; i++) {
        if ((result = SYS(SYS_dup3, moved[i], i, 0)) != i) fail(request, CP_SPAWN_STEP_DESCRIPTORS, result < 0 ? result : -EBADF);
        if (request->blocking[i]) {
            long flags = SYS(SYS_fcntl, i, F_GETFL);
            if (flags < 0) fail(request, CP_SPAWN_STEP_DESCRIPTORS, flags);
            if ((result = SYS(SYS_fcntl, i, F_SETFL, flags & ~O_NONBLOCK)) < 0) fail(request, CP_SPAWN_STEP_DESCRIPTORS, result);
        }
    }
    if (SYS(SYS_close_range, (unsigned)request->fd_count, ~0U, 0) < 0) {
        struct rlimit limit = { 1024, 1024 };
        SYS(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, &limit);
        for (unsigned long fd = (unsigned long)request->fd_count; fd < limit.rlim_cur && fd < (1UL << 20); fd++) SYS(SYS_close, fd);
    }
    // 4. Directory, then groups, group and user (the user last: after it the others may fail).
    if (request->directory && (result = SYS(SYS_chdir, request->directory)) < 0) fail(request, CP_SPAWN_STEP_DIRECTORY, result);
    if (request->set_groups && (result = SYS(SYS_setgroups, (long)request->group_count, request->groups)) < 0) fail(request, CP_SPAWN_STEP_GROUPS, result);
    if (request->set_gid && (result = SYS(SYS_setgid, (long)request->gid)) < 0) fail(request, CP_SPAWN_STEP_GROUP, result);
    if (request->set_uid && (result = SYS(SYS_setuid, (long)request->uid)) < 0) fail(request, CP_SPAWN_STEP_USER, result);
    if (request->listen_pid_digits) write_decimal(request->listen_pid_digits, SYS(SYS_getpid, 0));
    result = SYS(SYS_execve, request->path, request->argv, request->envp);
    fail(request, CP_SPAWN_STEP_EXEC, result);
    return 127;
}

// Under ThreadSanitizer the C library's clone is intercepted and handled like fork, which
// aborts for a CLONE_VM child of a threaded process: call the library's own clone instead.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#include <dlfcn.h>
typedef int (*clone_function)(int (*)(void *), void *, int, void *, ...);
static clone_function library_clone(void) {
    static clone_function found;  // looked up by whichever thread spawns first (same answer for all)
    clone_function known = __atomic_load_n(&found, __ATOMIC_ACQUIRE);
    if (!known) {
        known = (clone_function)dlsym(RTLD_NEXT, "clone");
        __atomic_store_n(&found, known, __ATOMIC_RELEASE);
    }
    return known;
}
#define CP_CLONE (library_clone())
#endif
#endif
#ifndef CP_CLONE
#define CP_CLONE clone
#endif

// The signals whose disposition is not SIG_DFL in this process (ignored or caught), read from
// the kernel at the first spawn and again after cp_spawn_dispositions_changed(). Portvisor sets
// dispositions only at start-up and when a supervisor starts (Syscall.ignoreSIGPIPE, which
// reports the change); a handler installed later without that call stays in the child until
// its execve resets it, with every signal blocked until just before.
static pthread_mutex_t nondefault_lock = PTHREAD_MUTEX_INITIALIZER;
static int nondefault_known;
static unsigned long long nondefault_signals;

void cp_spawn_dispositions_changed(void) {
    pthread_mutex_lock(&nondefault_lock);
    nondefault_known = 0;
    pthread_mutex_unlock(&nondefault_lock);
}

static unsigned long long nondefault_now(void) {
    pthread_mutex_lock(&nondefault_lock);
    if (!nondefault_known) {
        struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } current;
        unsigned long long found = 0;
        for (int signal_number = 1; signal_number <= 64 && signal_number < NSIG; signal_number++) {
            if (signal_number == SIGKILL || signal_number == SIGSTOP) continue;
            // An unreadable disposition is reset anyway: resetting a default one is harmless.
            if (syscall(SYS_rt_sigaction, signal_number, NULL, &current, sizeof current.mask) != 0
                || current.handler != (void *)SIG_DFL)
                found |= 1ULL << (signal_number - 1);
        }
        nondefault_signals = found;
        nondefault_known = 1;
    }
    unsigned long long result = nondefault_signals;
    pthread_mutex_unlock(&nondefault_lock);
    return result;
}

static pid_t start(cp_spawn_request *request, void *stack, size_t stack_size, int *pidfd, int detached) {
    if (request->fd_count < 0 || request->fd_count > CP_SPAWN_MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
    if (!CP_SPAWN_RAW) detached = 0;
    request->error = 0;
    request->failed_step = 0;
    request->reset_signals = nondefault_now();
    // Cleared by the kernel (and futex-woken) when the child execs or ends: CLONE_CHILD_CLEARTID
    // in a detached spawn; a waiting spawn returns only after that anyway.
    __atomic_store_n(&request->child_tid, detached ? 1 : 0, __ATOMIC_RELEASE);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int descriptor = -1;
    // The stack grows down on every architecture Linux runs Portvisor on: pass its top, aligned.
    char *top = (char *)stack + stack_size;
    top = (char *)((unsigned long)top & ~15UL);
    int flags = CLONE_VM | CLONE_PIDFD | SIGCHLD | (detached ? CLONE_CHILD_CLEARTID : CLONE_VFORK);
    pid_t pid = CP_CLONE(child_main, top, flags, request, &descriptor, NULL, &request->child_tid);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        __atomic_store_n(&request->child_tid, 0, __ATOMIC_RELEASE);
        errno = saved;
        return -1;
    }
    if (!detached && request->error != 0) {
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

pid_t cp_spawn(cp_spawn_request *request, void *stack, size_t stack_size, int *pidfd) {
    return start(request, stack, stack_size, pidfd, 0);
}

pid_t cp_spawn_detached(cp_spawn_request *request, void *stack, size_t stack_size, int *pidfd) {
    return start(request, stack, stack_size, pidfd, 1);
}

int cp_spawn_settled(const cp_spawn_request *request) {
    return __atomic_load_n(&request->child_tid, __ATOMIC_ACQUIRE) == 0;
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
