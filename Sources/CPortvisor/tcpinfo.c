// TCP_INFO byte counts for sockets whose bytes a child moves (exec): the kernel's struct
// tcp_info from <linux/tcp.h>, which has the byte counters glibc's copy may lack.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

int cp_tcp_bytes(int fd, unsigned long long *received, unsigned long long *acked) {
    struct tcp_info info;
    memset(&info, 0, sizeof info);
    socklen_t length = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return -1;
    // The counters advance by one for a FIN too: take out the peer's FIN once it has come
    // (CLOSE_WAIT and after) and ours once it is acknowledged (FIN_WAIT2, TIME_WAIT).
    unsigned long long in = info.tcpi_bytes_received, out = info.tcpi_bytes_acked;
    // The kernel's TCP states (include/net/tcp_states.h): FIN_WAIT2 5, TIME_WAIT 6,
    // CLOSE_WAIT 8, LAST_ACK 9, CLOSING 11.
    enum { FIN_WAIT2 = 5, TIME_WAIT = 6, CLOSE_WAIT = 8, LAST_ACK = 9, CLOSING = 11 };
    int state = info.tcpi_state;
    if ((state == CLOSE_WAIT || state == LAST_ACK || state == CLOSING || state == TIME_WAIT) && in > 0) in -= 1;
    if ((state == FIN_WAIT2 || state == TIME_WAIT) && out > 0) out -= 1;
    *received = in;
    *acked = out;
    return 0;
}
