/* nflog_read: the least a program can do to sniff through NFLOG. Binds nfnetlink_log group GROUP
 * in the caller's namespace with the same configuration as divert4j's sniffer (NflogCodec): whole
 * packets (NFULNL_COPY_PACKET, range 0xffff), a queue threshold of QTHRESH copies per message
 * (default 64), a message buffer of 16 KiB less room for skb_shared_info (NFULA_CFG_NLBUFSIZ) and
 * a flush timeout of 10 ms (NFULA_CFG_TIMEOUT, in 1/100 s). Then it reads and counts the copies
 * until killed, parsing nothing: the cost that remains is the kernel's (building each copy in
 * nfulnl_log_packet, net/netfilter/nfnetlink_log.c, in the softirq of the packet's path) and the
 * reads. Prints "bound" on stderr once the group is bound, and the count on SIGTERM.
 * usage: nflog_read GROUP [QTHRESH] */
#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fd;
static unsigned seq;
static volatile sig_atomic_t stop;

static void on_term(int s) {
  (void)s;
  stop = 1;
}

static void put_attr(char *b, int *off, int type, const void *d, int len) {
  struct nlattr *a = (struct nlattr *)(b + *off);
  a->nla_type = type;
  a->nla_len = NLA_HDRLEN + len;
  memcpy(b + *off + NLA_HDRLEN, d, len);
  *off += NLA_ALIGN(a->nla_len);
}

/* One NFULNL_MSG_CONFIG request for GROUP: the command CMD, or (cmd < 0) the copy mode and
 * batching. Waits for the kernel's acknowledgement and exits on an error. */
static void config(int group, int cmd, int qthresh) {
  char b[256];
  memset(b, 0, sizeof b);
  struct nlmsghdr *n = (struct nlmsghdr *)b;
  n->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
  n->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  n->nlmsg_seq = ++seq;
  struct nfgenmsg *g = (struct nfgenmsg *)(b + NLMSG_HDRLEN);
  g->nfgen_family = AF_UNSPEC;
  g->version = NFNETLINK_V0;
  g->res_id = htons(group);
  int off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof *g);
  if (cmd >= 0) {
    struct nfulnl_msg_config_cmd c = {cmd};
    put_attr(b, &off, NFULA_CFG_CMD, &c, sizeof c);
  } else {
    struct nfulnl_msg_config_mode m = {htonl(0xffff), NFULNL_COPY_PACKET, 0};
    put_attr(b, &off, NFULA_CFG_MODE, &m, sizeof m);
    unsigned q = htonl(qthresh), size = htonl(16384 - 320), timeout = htonl(1);
    put_attr(b, &off, NFULA_CFG_QTHRESH, &q, 4);
    put_attr(b, &off, NFULA_CFG_NLBUFSIZ, &size, 4);
    put_attr(b, &off, NFULA_CFG_TIMEOUT, &timeout, 4);
  }
  n->nlmsg_len = off;
  if (send(fd, b, off, 0) < 0) {
    perror("nflog_read: send");
    exit(1);
  }
  char r[512];
  ssize_t len = recv(fd, r, sizeof r, 0);
  struct nlmsghdr *h = (struct nlmsghdr *)r;
  if (len < 0 || !NLMSG_OK(h, len) || h->nlmsg_type != NLMSG_ERROR) {
    fprintf(stderr, "nflog_read: no acknowledgement for the configuration\n");
    exit(1);
  }
  struct nlmsgerr *e = NLMSG_DATA(h);
  if (e->error != 0) {
    fprintf(stderr, "nflog_read: configuration refused: %s\n", strerror(-e->error));
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: nflog_read GROUP [QTHRESH]\n");
    return 64;
  }
  int group = atoi(argv[1]), qthresh = argc > 2 ? atoi(argv[2]) : 64;
  fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
  struct sockaddr_nl a = {.nl_family = AF_NETLINK};
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    perror("nflog_read: netlink socket");
    return 1;
  }
  int rcvbuf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  config(group, NFULNL_CFG_CMD_BIND, 0);
  config(group, -1, qthresh);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  fprintf(stderr, "bound\n");
  static char buf[1 << 17];
  long long copies = 0;
  while (!stop) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      continue; /* EINTR at the end, or ENOBUFS: copies lost, which the count shows */
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET)) {
        copies++;
      }
    }
  }
  printf("%lld\n", copies);
  return 0;
}
