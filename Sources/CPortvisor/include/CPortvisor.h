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

/// accept4(2): Glibc's module hides it behind _GNU_SOURCE.
int cp_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);

/// pipe2(2), also behind _GNU_SOURCE.
int cp_pipe2(int fds[2], int flags);

/// posix_spawn_file_actions_addchdir_np, for starting a child in another directory.
int cp_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/// Names the calling thread (shown by `top -H`, `ps -L`); at most 15 bytes are kept.
void cp_set_thread_name(const char *name);

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

#endif
