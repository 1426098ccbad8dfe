/* udp_blast: send UDP datagrams of a fixed payload size as fast as possible for a while.
 * usage: udp_blast [-4|-6] DST_IP DST_PORT PAYLOAD_BYTES SECONDS [SRC_IP]
 * -6: an AF_INET6 socket, the addresses are IPv6 ones (default -4: AF_INET).
 * Prints the number of datagrams sent. Uses sendmmsg with 64 messages per call. */
#define _GNU_SOURCE
#include <arpa/inet.h>
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

/* Fills an address of the family from text; returns its length, 0 if the text is not one. */
static socklen_t address(int family, const char *text, int port, struct sockaddr_storage *a) {
  memset(a, 0, sizeof *a);
  if (family == AF_INET6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)a;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    return inet_pton(AF_INET6, text, &s6->sin6_addr) == 1 ? sizeof *s6 : 0;
  }
  struct sockaddr_in *s4 = (struct sockaddr_in *)a;
  s4->sin_family = AF_INET;
  s4->sin_port = htons(port);
  return inet_pton(AF_INET, text, &s4->sin_addr) == 1 ? sizeof *s4 : 0;
}

int main(int argc, char **argv) {
  int family = AF_INET;
  if (argc > 1 && (strcmp(argv[1], "-4") == 0 || strcmp(argv[1], "-6") == 0)) {
    family = argv[1][1] == '6' ? AF_INET6 : AF_INET;
    argv++;
    argc--;
  }
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: udp_blast [-4|-6] DST_IP DST_PORT PAYLOAD_BYTES SECONDS [SRC_IP]\n");
    return 64;
  }
  int fd = socket(family, SOCK_DGRAM, 0);
  struct sockaddr_storage src, dst;
  if (argc == 6) {
    socklen_t len = address(family, argv[5], 0, &src);
    if (len == 0) {
      fprintf(stderr, "udp_blast: not an address of the family: %s\n", argv[5]);
      return 64;
    }
    if (bind(fd, (struct sockaddr *)&src, len) < 0) {
      perror("bind");
      return 1;
    }
  }
  socklen_t dlen = address(family, argv[1], atoi(argv[2]), &dst);
  if (dlen == 0) {
    fprintf(stderr, "udp_blast: not an address of the family: %s\n", argv[1]);
    return 64;
  }
  if (connect(fd, (struct sockaddr *)&dst, dlen) < 0) {
    perror("connect");
    return 1;
  }
  int size = atoi(argv[3]);
  double secs = atof(argv[4]);
  char *payload = calloc(1, size);
  enum { N = 64 };
  struct mmsghdr msgs[N];
  struct iovec iov[N];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < N; i++) {
    iov[i].iov_base = payload;
    iov[i].iov_len = size;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  long long sent = 0;
  double end = now() + secs;
  while (now() < end) {
    int n = sendmmsg(fd, msgs, N, 0);
    if (n > 0) sent += n;
  }
  printf("%lld\n", sent);
  return 0;
}
