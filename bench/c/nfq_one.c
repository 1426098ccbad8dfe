/* nfq_one: the classic libnetfilter_queue loop: recv one message, one verdict (NF_ACCEPT) per
 * packet, copy mode PACKET. The baseline a C programmer would write first.
 * usage: nfq_one [-4|-6] QUEUE [repeat] [gso]
 * -4/-6: the family the queue's rule is for (iptables or ip6tables); a queue takes both families
 * alike, so the family changes nothing in the loop: it is checked against each packet's
 * hw_protocol (ETH_P_IP / ETH_P_IPV6, the skb's protocol that nfqnl_build_packet_message puts in
 * NFQA_PACKET_HDR), and packets of the other family are counted and reported on stderr, so that a
 * benchmark knows its rule diverted the family it meant. Without the option nothing is checked.
 * "gso" sets NFQA_CFG_F_GSO on the queue: GSO packets are queued whole instead of being cut to the
 * MTU by nf_queue (net/netfilter/nfnetlink_queue.c, nfqnl_enqueue_packet).
 * Runs until killed; prints the packet count on SIGTERM (and the mean time of a verdict call on
 * stderr). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static long long count;
/* "repeat": NF_REPEAT with mark bit 0x1 set (the rule skips marked packets), so netfilter runs
 * the table again, as divert4j's resume-after-the-rule verdict does; default NF_ACCEPT. */
static int repeat;

static void on_term(int s) { (void)s; stop = 1; }

static uint16_t expected_protocol; /* ETH_P_IP or ETH_P_IPV6 in host order; 0: no check */
static long long other_family;     /* packets whose hw_protocol is not the expected one */

static long long verdict_ns; /* time spent in the verdict calls */

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int verdict(struct nfq_q_handle *qh, uint32_t id) {
  if (repeat) return nfq_set_verdict2(qh, id, NF_REPEAT, 0x1, 0, NULL);
  return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
}

static int cb(struct nfq_q_handle *qh, struct nfgenmsg *m, struct nfq_data *d, void *data) {
  (void)m;
  (void)data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(d);
  count++;
  if (expected_protocol != 0 && ntohs(ph->hw_protocol) != expected_protocol) other_family++;
  long long t0 = now_ns();
  int r = verdict(qh, ntohl(ph->packet_id));
  verdict_ns += now_ns() - t0;
  return r;
}

int main(int argc, char **argv) {
  int gso = 0;
  if (argc > 1 && (strcmp(argv[1], "-4") == 0 || strcmp(argv[1], "-6") == 0)) {
    expected_protocol = argv[1][1] == '6' ? ETH_P_IPV6 : ETH_P_IP;
    argv++;
    argc--;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: nfq_one [-4|-6] QUEUE [repeat] [gso]\n");
    return 64;
  }
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "repeat") == 0) {
      repeat = 1;
    } else if (strcmp(argv[i], "gso") == 0) {
      gso = 1;
    } else {
      fprintf(stderr, "usage: nfq_one [-4|-6] QUEUE [repeat] [gso]\n");
      return 64;
    }
  }
  struct sigaction sa = {.sa_handler = on_term};  /* no SA_RESTART: SIGTERM ends recv */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  struct nfq_handle *h = nfq_open();
  if (!h) { perror("nfq_open"); return 1; }
  struct nfq_q_handle *qh = nfq_create_queue(h, atoi(argv[1]), cb, NULL);
  if (!qh) { perror("nfq_create_queue"); return 1; }
  nfq_set_mode(qh, NFQNL_COPY_PACKET, 0xffff);
  nfq_set_queue_maxlen(qh, 8192);
  if (gso && nfq_set_queue_flags(qh, NFQA_CFG_F_GSO, NFQA_CFG_F_GSO) < 0) {
    perror("nfq_set_queue_flags NFQA_CFG_F_GSO");
    return 1;
  }
  int fd = nfq_fd(h);
  int buf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  printf("ready\n");
  fflush(stdout);
  char pkt[65536 + 4096];
  while (!stop) {
    int n = recv(fd, pkt, sizeof pkt, 0);
    if (n < 0) {
      if (errno == ENOBUFS || errno == EINTR) continue;
      break;
    }
    nfq_handle_packet(h, pkt, n);
  }
  printf("%lld\n", count);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu_us = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1e6 +
                  ru.ru_stime.tv_usec;
  fprintf(stderr, "nfq_one: %lld packets, CPU %.2f us/packet, verdict call %.2f us/packet\n",
          count, count ? cpu_us / count : 0.0, count ? verdict_ns / 1e3 / count : 0.0);
  if (other_family > 0) {
    fprintf(stderr, "nfq_one: %lld of %lld packets were not of the family %s\n", other_family,
            count, expected_protocol == ETH_P_IPV6 ? "IPv6" : "IPv4");
  }
  nfq_destroy_queue(qh);
  nfq_close(h);
  return other_family > 0 ? 3 : 0;
}
