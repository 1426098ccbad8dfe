/* udp_ping: UDP ping-pong round-trip times. Sends one datagram (PAYLOAD bytes, a sequence number
 * in the first 8), waits for its echo (blocking recv, 200 ms timeout), and repeats: WARMUP
 * unmeasured rounds, then COUNT measured ones.
 * usage: udp_ping DST_IP DST_PORT PAYLOAD_BYTES WARMUP COUNT
 * Prints "<median_us> <p99_us> <mean_us> <lost>" (RTT in microseconds, CLOCK_MONOTONIC). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s DST_IP DST_PORT PAYLOAD_BYTES WARMUP COUNT\n", argv[0]);
    return 64;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  inet_pton(AF_INET, argv[1], &dst.sin_addr);
  if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0) {
    perror("connect");
    return 1;
  }
  struct timeval to = {0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &to, sizeof to);
  int size = atoi(argv[3]);
  if (size < 8) size = 8;
  long warm = atol(argv[4]), count = atol(argv[5]);
  char *out = calloc(1, size), in[65536];
  int64_t *rtt = malloc(sizeof(int64_t) * (count > 0 ? count : 1));
  long lost = 0, got = 0;
  for (uint64_t seq = 1; got < count; seq++) {
    memcpy(out, &seq, 8);
    int64_t t0 = now_ns();
    if (send(fd, out, size, 0) < 0) {
      perror("send");
      return 1;
    }
    for (;;) {
      ssize_t n = recv(fd, in, sizeof in, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (seq > (uint64_t)warm) lost++;
        break; /* timeout: count it lost, send the next one */
      }
      uint64_t s;
      memcpy(&s, in, 8);
      if (n >= 8 && s == seq) {
        int64_t t = now_ns() - t0;
        if (seq > (uint64_t)warm) rtt[got++] = t;
        break;
      }
      /* a late echo of an earlier round: ignore it */
    }
    if (lost > count) break;
  }
  if (got == 0) {
    printf("0 0 0 %ld\n", lost);
    return 0;
  }
  double sum = 0;
  for (long i = 0; i < got; i++) sum += rtt[i];
  qsort(rtt, got, sizeof rtt[0], cmp);
  long p99 = (long)((got - 1) * 0.99 + 0.5);
  printf("%.1f %.1f %.1f %ld\n", rtt[(got - 1) / 2] / 1e3, rtt[p99] / 1e3, sum / got / 1e3, lost);
  return 0;
}
