// NETLINK_SOCK_DIAG: opening the socket, sending one inet_diag dump request for the TCP sockets
// of one family and local port, and the layout of the replies, taken from the kernel's headers.
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

// Not CPortvisor.h: <linux/tcp.h>, which has tcp_info's byte counters, clashes with the
// <netinet/tcp.h> it includes. The layout comes from the kernel's headers, not from numbers.
const unsigned int cp_nlmsg_header_size = NLMSG_HDRLEN;
const unsigned int cp_nlmsg_align = NLMSG_ALIGNTO;
const unsigned int cp_nlmsg_error = NLMSG_ERROR;
const unsigned int cp_nlmsg_done = NLMSG_DONE;
const unsigned int cp_sock_diag_by_family = SOCK_DIAG_BY_FAMILY;
const unsigned int cp_nla_header_size = NLA_HDRLEN;
const unsigned int cp_nla_align = NLA_ALIGNTO;
const unsigned int cp_nla_type_mask = (__u16)NLA_TYPE_MASK;  // the 16 bits of nla_type
const unsigned int cp_inet_diag_info = INET_DIAG_INFO;
const unsigned int cp_inet_diag_msg_size = sizeof(struct inet_diag_msg);
const unsigned int cp_inet_diag_msg_family = offsetof(struct inet_diag_msg, idiag_family);
const unsigned int cp_inet_diag_msg_state = offsetof(struct inet_diag_msg, idiag_state);
const unsigned int cp_inet_diag_msg_sport = offsetof(struct inet_diag_msg, id.idiag_sport);
const unsigned int cp_inet_diag_msg_dport = offsetof(struct inet_diag_msg, id.idiag_dport);
const unsigned int cp_inet_diag_msg_src = offsetof(struct inet_diag_msg, id.idiag_src);
const unsigned int cp_inet_diag_msg_dst = offsetof(struct inet_diag_msg, id.idiag_dst);
const unsigned int cp_inet_diag_msg_if = offsetof(struct inet_diag_msg, id.idiag_if);
const unsigned int cp_inet_diag_msg_inode = offsetof(struct inet_diag_msg, idiag_inode);
// TCP_ESTABLISHED of the kernel's tcp_states.h (not a UAPI header; the value is ABI, and
// <linux/bpf.h> mirrors it as BPF_TCP_ESTABLISHED).
const unsigned int cp_tcp_established = 1;
const unsigned int cp_tcpi_bytes_acked = offsetof(struct tcp_info, tcpi_bytes_acked);
const unsigned int cp_tcpi_bytes_received = offsetof(struct tcp_info, tcpi_bytes_received);

int cp_sock_diag_open(void) {
    return socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
}

int cp_sock_diag_request(int fd, unsigned char family, unsigned short port, unsigned int sequence) {
    // The request, then one attribute holding the filter "source port == port": an S_EQ op
    // (yes: go on to the end, accept; no: jump past the end, reject) and the op carrying the port.
    struct {
        struct nlmsghdr header;
        struct inet_diag_req_v2 request;
        struct nlattr attribute;
        struct inet_diag_bc_op ops[2];
    } message;
    _Static_assert(sizeof message == NLMSG_HDRLEN + sizeof(struct inet_diag_req_v2) + NLA_HDRLEN + 8, "no padding");
    memset(&message, 0, sizeof message);
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    message.header.nlmsg_seq = sequence;
    message.request.sdiag_family = family;
    message.request.sdiag_protocol = IPPROTO_TCP;
    message.request.idiag_ext = 1 << (INET_DIAG_INFO - 1);
    message.request.idiag_states = 1u << cp_tcp_established;
    message.request.id.idiag_sport = htons(port);
    message.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    message.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    message.attribute.nla_len = NLA_HDRLEN + sizeof message.ops;
    message.attribute.nla_type = INET_DIAG_REQ_BYTECODE;
    message.ops[0] = (struct inet_diag_bc_op){ INET_DIAG_BC_S_EQ, sizeof message.ops, sizeof message.ops + 4 };
    message.ops[1] = (struct inet_diag_bc_op){ 0, 0, port };

    struct sockaddr_nl kernel;
    memset(&kernel, 0, sizeof kernel);
    kernel.nl_family = AF_NETLINK;
    ssize_t sent;
    do {
        sent = sendto(fd, &message, sizeof message, 0, (struct sockaddr *)&kernel, sizeof kernel);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) return -1;
    if ((size_t)sent != sizeof message) {
        errno = EMSGSIZE;
        return -1;
    }
    return 0;
}
