/* udp_blast: send UDP datagrams of a fixed payload size as fast as possible for a while.
 * usage: udp_blast DST_IP DST_PORT PAYLOAD_BYTES SECONDS [SRC_IP]
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

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: %s DST_IP DST_PORT PAYLOAD_BYTES SECONDS [SRC_IP]\n", argv[0]);
    return 64;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (argc == 6) {
    struct sockaddr_in src = {.sin_family = AF_INET};
    inet_pton(AF_INET, argv[5], &src.sin_addr);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
      perror("bind");
      return 1;
    }
  }
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  inet_pton(AF_INET, argv[1], &dst.sin_addr);
  if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0) {
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
