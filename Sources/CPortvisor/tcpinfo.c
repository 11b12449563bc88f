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
    *received = info.tcpi_bytes_received;
    *acked = info.tcpi_bytes_acked;
    return 0;
}
