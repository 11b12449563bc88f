// System headers that Glibc's Swift module does not export (epoll, eventfd, signalfd, accept4),
// plus a few constants whose C definitions do not import cleanly. Nothing else lives here.
#ifndef CPORTVISOR_H
#define CPORTVISOR_H

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

/// accept4(2): Glibc's module hides it behind _GNU_SOURCE.
int cp_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);

/// pipe2(2), also behind _GNU_SOURCE.
int cp_pipe2(int fds[2], int flags);

/// splice(2) between two descriptors, one of them a pipe (non-blocking, moving pages).
long cp_splice(int from, int to, size_t count);

/// F_SETPIPE_SZ: the pipe's capacity (rounded up to pages); returns it, or -1.
int cp_set_pipe_size(int fd, int size);

/// posix_spawn_file_actions_addchdir_np, for starting a child in another directory.
int cp_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/// Names the calling thread (shown by `top -H`, `ps -L`); at most 15 bytes are kept.
void cp_set_thread_name(const char *name);

/// SO_PEERCRED of a connected Unix socket: the peer's pid, uid and gid. 0, or -1 with errno.
int cp_peer_credentials(int fd, int *pid, unsigned int *uid, unsigned int *gid);

/// The calling thread's errno, read at once after a failed call.
int cp_errno(void);

/// SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, and the same for datagrams.
static const int CP_SOCK_STREAM_NONBLOCK_CLOEXEC = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
static const int CP_SOCK_DGRAM_NONBLOCK_CLOEXEC = SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
static const int CP_SOCK_NONBLOCK_CLOEXEC = SOCK_NONBLOCK | SOCK_CLOEXEC;
static const int CP_SOCK_STREAM = SOCK_STREAM;
static const int CP_SOCK_DGRAM = SOCK_DGRAM;

static const unsigned int CP_EPOLLIN = EPOLLIN;
static const unsigned int CP_EPOLLOUT = EPOLLOUT;
static const unsigned int CP_EPOLLERR = EPOLLERR;
static const unsigned int CP_EPOLLHUP = EPOLLHUP;
static const unsigned int CP_EPOLLONESHOT = EPOLLONESHOT;
static const unsigned int CP_EPOLLRDHUP = EPOLLRDHUP;

/// epoll_event is packed on x86_64; these keep Swift away from its layout.
int cp_epoll_ctl(int epfd, int op, int fd, unsigned int events, unsigned long long token);
int cp_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout);
static inline unsigned int cp_epoll_event_events(const struct epoll_event *events, int index) {
    return events[index].events;
}
static inline unsigned long long cp_epoll_event_token(const struct epoll_event *events, int index) {
    return events[index].data.u64;
}

/// Spawning (spawn.c): at most this many descriptors are passed to a child (as 0, 1, 2, …).
#define CP_SPAWN_MAX_FDS 8

/// Which step failed in the child, when cp_spawn returns -1 with the child's errno.
enum {
    CP_SPAWN_STEP_NONE = 0,
    CP_SPAWN_STEP_SIGNALS = 1,
    CP_SPAWN_STEP_PROCESS_GROUP = 2,
    CP_SPAWN_STEP_DESCRIPTORS = 3,
    CP_SPAWN_STEP_DIRECTORY = 4,
    CP_SPAWN_STEP_GROUPS = 5,
    CP_SPAWN_STEP_GROUP = 6,
    CP_SPAWN_STEP_USER = 7,
    CP_SPAWN_STEP_EXEC = 8,
};

/// What to start and how. The caller owns every pointer until cp_spawn returns (a detached
/// spawn: until cp_spawn_settled).
typedef struct {
    const char *path;
    char *const *argv;
    char *const *envp;
    /// When set, points just past "LISTEN_PID=" inside one of envp's strings, with room for 21
    /// bytes: the child writes its own pid there before exec.
    char *listen_pid_digits;
    /// fds[i] becomes descriptor i in the child; -1: /dev/null. blocking[i]: clear O_NONBLOCK.
    int fds[CP_SPAWN_MAX_FDS];
    int blocking[CP_SPAWN_MAX_FDS];
    int fd_count;
    const char *directory;
    int new_process_group;
    int set_groups;
    const gid_t *groups;
    int group_count;
    int set_gid;
    gid_t gid;
    int set_uid;
    uid_t uid;
    /// Out: the child's errno and step when it failed before exec.
    int error;
    int failed_step;
    /// Set by cp_spawn: the signals (bit n-1 for signal n) the child puts back to SIG_DFL.
    unsigned long long reset_signals;
    /// Set by cp_spawn_detached, cleared by the kernel when the child has exec'd or ended.
    pid_t child_tid;
} cp_spawn_request;

/// Starts `request->path` with clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) on `stack` (at least
/// 16 KiB, lent for the call). Returns the pid and sets *pidfd; -1 with errno (and
/// request->failed_step when the child failed) otherwise.
pid_t cp_spawn(cp_spawn_request *request, void *stack, size_t stack_size, int *pidfd);
/// Starts it like cp_spawn without waiting for the child's execve: the request, everything it
/// points to and the stack stay in the child's use until cp_spawn_settled(request) is 1; then
/// request->error (and failed_step) say whether the exec failed. -1 with errno when no child
/// was created. (Where the child cannot make raw system calls, this waits like cp_spawn.)
pid_t cp_spawn_detached(cp_spawn_request *request, void *stack, size_t stack_size, int *pidfd);
/// 1 once a detached spawn's child has exec'd or ended (request->error is then final).
int cp_spawn_settled(const cp_spawn_request *request);
/// Call after changing a signal's disposition: the next spawn rereads which signals are not at
/// SIG_DFL (the only ones a child must have reset).
void cp_spawn_dispositions_changed(void);

/// waitid(P_PIDFD, WEXITED | WNOHANG): 1 with si_code/si_status/si_pid when the child has ended
/// (and is reaped), 0 while it runs, -1 on error.
int cp_pidfd_wait(int pidfd, int *code, int *status, int *pid);
/// waitid(P_ALL, WEXITED | WNOHANG): reaps any ended child (a reparented orphan).
int cp_wait_any(int *code, int *status, int *pid);
/// waitid(P_PID, WEXITED | WNOHANG) for one pid.
int cp_wait_pid(pid_t pid, int *code, int *status);
int cp_pidfd_open(pid_t pid);
int cp_pidfd_send_signal(int pidfd, int signal_number);
/// prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants are reparented to this process.
int cp_set_child_subreaper(void);

/// TCP_INFO (tcpinfo.c): bytes received, and bytes sent and acknowledged by the peer.
int cp_tcp_bytes(int fd, unsigned long long *received, unsigned long long *acked);

/// NETLINK_SOCK_DIAG (sockdiag.c): a non-blocking, close-on-exec netlink socket, or -1 with errno.
int cp_sock_diag_open(void);
/// Sends one SOCK_DIAG_BY_FAMILY dump request (inet_diag_req_v2) for the ESTABLISHED TCP
/// sockets of `family` whose local port is `port` (id.idiag_sport and a bytecode filter), asking
/// for INET_DIAG_INFO (struct tcp_info). 0, or -1 with errno.
int cp_sock_diag_request(int fd, unsigned char family, unsigned short port, unsigned int sequence);
/// The layout of the replies, from <linux/netlink.h>, <linux/inet_diag.h> and <linux/tcp.h>:
/// header sizes, alignments, message and attribute types, and byte offsets of the fields read.
extern const unsigned int cp_nlmsg_header_size, cp_nlmsg_align, cp_nlmsg_error, cp_nlmsg_done;
extern const unsigned int cp_sock_diag_by_family, cp_nla_header_size, cp_nla_align, cp_nla_type_mask;
extern const unsigned int cp_inet_diag_info, cp_inet_diag_msg_size, cp_inet_diag_msg_family;
extern const unsigned int cp_inet_diag_msg_state, cp_inet_diag_msg_sport, cp_inet_diag_msg_dport;
extern const unsigned int cp_inet_diag_msg_src, cp_inet_diag_msg_dst, cp_inet_diag_msg_if;
extern const unsigned int cp_inet_diag_msg_inode, cp_tcp_established;
extern const unsigned int cp_tcpi_bytes_acked, cp_tcpi_bytes_received;

static const int CP_CLD_EXITED = CLD_EXITED;
static const int CP_CLD_KILLED = CLD_KILLED;
static const int CP_CLD_DUMPED = CLD_DUMPED;

#endif
