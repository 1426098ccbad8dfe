/* pcap_bridge: a libpcap bridge between two interfaces, the C baseline of the pcap inline
 * segment. One thread per direction: pcap_next_ex on one interface, pcap_inject of the same
 * frame on the other. Both handles are opened as the segment opens its own (Pcap.openLive):
 * snaplen 65535, promiscuous, immediate mode, a 32 MiB kernel buffer, direction IN (so that a
 * frame injected on an interface is not captured there again).
 * usage: pcap_bridge IF_A IF_B
 * Prints "ready" once both captures are active; on SIGTERM or SIGINT prints
 * "<frames A->B> <frames B->A> <failed injects>" and exits.
 * Each thread injects on the other direction's handle: on Linux pcap_inject is a send() on the
 * handle's packet socket (pcap-linux.c, pcap_inject_linux), which the kernel serialises, while
 * the ring that pcap_next_ex reads belongs to the other thread alone. */
#define _GNU_SOURCE
#include <pcap/pcap.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pcap_t *h[2];
static volatile sig_atomic_t stop;
static unsigned long frames[2], failed[2];

static pcap_t *open_live(const char *dev) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t *p = pcap_create(dev, err);
  if (!p) {
    fprintf(stderr, "pcap_create %s: %s\n", dev, err);
    exit(1);
  }
  pcap_set_snaplen(p, 65535);
  pcap_set_promisc(p, 1);
  pcap_set_timeout(p, 100);
  pcap_set_immediate_mode(p, 1);
  pcap_set_buffer_size(p, 32 << 20);
  if (pcap_activate(p) < 0) {
    fprintf(stderr, "pcap_activate %s: %s\n", dev, pcap_geterr(p));
    exit(1);
  }
  if (pcap_setdirection(p, PCAP_D_IN) != 0) {
    fprintf(stderr, "pcap_setdirection %s: %s\n", dev, pcap_geterr(p));
    exit(1);
  }
  return p;
}

static void *forward(void *arg) {
  int from = (int)(long)arg;
  pcap_t *in = h[from], *out = h[1 - from];
  struct pcap_pkthdr *hdr;
  const u_char *data;
  while (!stop) {
    int rc = pcap_next_ex(in, &hdr, &data);
    if (rc == 1) {
      if (pcap_inject(out, data, hdr->caplen) < 0) {
        failed[from]++;
      } else {
        frames[from]++;
      }
    } else if (rc < 0) {
      break; /* PCAP_ERROR_BREAK after pcap_breakloop, or an error */
    }
  }
  return NULL;
}

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
  pcap_breakloop(h[0]);
  pcap_breakloop(h[1]);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s IF_A IF_B\n", argv[0]);
    return 64;
  }
  h[0] = open_live(argv[1]);
  h[1] = open_live(argv[2]);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  pthread_sigmask(SIG_BLOCK, &block, &old); /* the forwarding threads never take the signal */
  pthread_t t[2];
  for (long i = 0; i < 2; i++) {
    pthread_create(&t[i], NULL, forward, (void *)i);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  printf("ready\n");
  fflush(stdout);
  while (!stop) {
    pause();
  }
  /* pcap_breakloop wakes a thread blocked in poll() only on libpcap >= 1.10 (eventfd); the
   * 100 ms timeout of older ones ends the wait otherwise. */
  for (int i = 0; i < 2; i++) {
    pthread_join(t[i], NULL);
  }
  printf("%lu %lu %lu\n", frames[0], frames[1], failed[0] + failed[1]);
  fflush(stdout);
  return 0;
}
