/* nfq_batch: libnetfilter_queue served the fast way: recvmmsg takes up to 64 netlink datagrams
 * per system call, every packet message is parsed by nfq_handle_packet, and after each receive
 * ONE nfq_set_verdict_batch (NFQNL_MSG_VERDICT_BATCH) accepts every packet up to the highest id
 * seen. Copy mode PACKET, range 0xFFFF, maxlen 8192, 8 MiB receive buffer, like nfq_one.
 * usage: nfq_batch QUEUE
 * Runs until killed; prints the packet count on SIGTERM. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static long long count;
/* "repeat": NF_REPEAT with mark bit 0x1 set (the rule skips marked packets), so netfilter runs
 * the table again, as divert4j's resume-after-the-rule verdict does; default NF_ACCEPT. */
static int repeat;
static uint32_t last_id;
static int pending;

static void on_term(int s) { (void)s; stop = 1; }

static int cb(struct nfq_q_handle *qh, struct nfgenmsg *m, struct nfq_data *d, void *data) {
  (void)qh;
  (void)m;
  (void)data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(d);
  uint32_t id = ntohl(ph->packet_id);
  /* ids of one queue increase; a batch verdict covers every held id <= last_id */
  if (!pending || (int32_t)(id - last_id) > 0) last_id = id;
  pending = 1;
  count++;
  return 0;
}

enum { N = 64, SLOT = 65536 + 4096 };

int main(int argc, char **argv) {
  if (argc != 2 && !(argc == 3 && strcmp(argv[2], "repeat") == 0)) {
    fprintf(stderr, "usage: %s QUEUE [repeat]\n", argv[0]);
    return 64;
  }
  repeat = argc == 3;
  struct sigaction sa = {.sa_handler = on_term}; /* no SA_RESTART: SIGTERM ends recvmmsg */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  struct nfq_handle *h = nfq_open();
  if (!h) { perror("nfq_open"); return 1; }
  struct nfq_q_handle *qh = nfq_create_queue(h, atoi(argv[1]), cb, NULL);
  if (!qh) { perror("nfq_create_queue"); return 1; }
  nfq_set_mode(qh, NFQNL_COPY_PACKET, 0xffff);
  nfq_set_queue_maxlen(qh, 8192);
  int fd = nfq_fd(h);
  int buf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  char *bufs = malloc((size_t)N * SLOT);
  struct mmsghdr msgs[N];
  struct iovec iov[N];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < N; i++) {
    iov[i].iov_base = bufs + (size_t)i * SLOT;
    iov[i].iov_len = SLOT;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  printf("ready\n");
  fflush(stdout);
  struct pollfd p = {.fd = fd, .events = POLLIN};
  while (!stop) {
    int n = recvmmsg(fd, msgs, N, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EAGAIN) {
        poll(&p, 1, 100);
        continue;
      }
      if (errno == ENOBUFS || errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; i++) nfq_handle_packet(h, iov[i].iov_base, msgs[i].msg_len);
    if (pending) {
      if (repeat)
        nfq_set_verdict_batch2(qh, last_id, NF_REPEAT, 0x1);
      else
        nfq_set_verdict_batch(qh, last_id, NF_ACCEPT);
      pending = 0;
    }
  }
  printf("%lld\n", count);
  nfq_destroy_queue(qh);
  nfq_close(h);
  return 0;
}
