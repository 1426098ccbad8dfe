/* udp_sink: count the UDP datagrams that arrive on a port during a measuring window.
 * usage: udp_sink [-4|-6] PORT WARMUP_SECONDS SECONDS
 * -6: an AF_INET6 socket bound to [::] with IPV6_V6ONLY, so it counts IPv6 datagrams only
 * (default -4: AF_INET, 0.0.0.0).
 * Prints "<datagrams> <seconds>" for the window that starts WARMUP_SECONDS after the first
 * datagram. Uses recvmmsg with 64 messages per call and a 16 MiB receive buffer. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  int family = AF_INET;
  if (argc > 1 && (strcmp(argv[1], "-4") == 0 || strcmp(argv[1], "-6") == 0)) {
    family = argv[1][1] == '6' ? AF_INET6 : AF_INET;
    argv++;
    argc--;
  }
  if (argc != 4) {
    fprintf(stderr, "usage: udp_sink [-4|-6] PORT WARMUP_SECONDS SECONDS\n");
    return 64;
  }
  int fd = socket(family, SOCK_DGRAM, 0);
  int buf = 16 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  struct sockaddr_storage a;
  socklen_t alen;
  memset(&a, 0, sizeof a);
  if (family == AF_INET6) {
    int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(atoi(argv[1]));
    s6->sin6_addr = in6addr_any;
    alen = sizeof *s6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&a;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(atoi(argv[1]));
    alen = sizeof *s4;
  }
  if (bind(fd, (struct sockaddr *)&a, alen) < 0) {
    perror("bind");
    return 1;
  }
  double warm = atof(argv[2]), secs = atof(argv[3]);
  enum { N = 64 };
  static char bufs[N][2048];
  struct mmsghdr msgs[N];
  struct iovec iov[N];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < N; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = sizeof bufs[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  printf("ready\n");
  fflush(stdout);
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, 30000) <= 0) {
    printf("0 0\n");
    return 0;
  }
  double start = now() + warm, end = start + secs;
  long long count = 0;
  struct timespec to = {0, 100000000};
  for (;;) {
    double t = now();
    if (t >= end) break;
    int n = recvmmsg(fd, msgs, N, 0, &to);
    if (n > 0 && now() >= start) count += n;
  }
  printf("%lld %.3f\n", count, secs);
  return 0;
}
