package org.divert4j;

/**
 * What a backend can do beyond the rules every backend must meet. A rule of SEMANTICS.md marked
 * {@code [cap: X]} applies only to backends that declare X, and a declared capability is a promise:
 * the TCK fails a backend that declares one and then breaks its rule.
 */
public enum Capability {
  /** The host forwards packets between interfaces, so the forward chain sees traffic (S4, S44). */
  FORWARD,
  /** A rule installed by one program can be served by a socket bound in another (S3). */
  SHARED_RULES,
  /** A packet injected inbound is seen as arriving on exactly the named interface (S33). */
  EXACT_INBOUND_INTERFACE,
  /** The host has two interfaces whose MTUs can differ, so per-interface limits apply (S30). */
  MULTIPLE_INTERFACES,
  /** The test bed runs on a virtual clock: timeouts pass without waiting. */
  VIRTUAL_TIME,
  /** Several reader queues for one port ({@link HostOptions#parallelism()} above 1). */
  PARALLELISM,
  /**
   * Locally generated packets of 65532 to 65535 bytes are delivered whole on the output chain (S8).
   * A backend without it drops them and counts each as {@link DropReason#NO_BUFFER}: the kernel
   * backend, whose NFQUEUE copies at most 65531 bytes of a packet (a netlink attribute's length is
   * 16 bits) and which has no other copy of a packet that has not left the host yet.
   */
  WHOLE_LOCAL_OUTPUT,
  /**
   * IPv6 is diverted next to IPv4 through the same hosts, sockets, chains and ports (SEMANTICS.md
   * section K, S54–S63). Without it a backend diverts IPv4 only: a rule without a family matches
   * IPv4 packets, and a rule restricted to IPv6 is refused by {@code addRule}.
   */
  IPV6,
  /**
   * In always-defragment mode an IPv6 atomic fragment (offset 0, M 0) is delivered as it is,
   * Fragment header included (S58, RFC 6946). Without it the backend's reassembly takes an atomic
   * fragment for a datagram of one fragment and delivers it without the header: the kernel backend,
   * whose always-defragment mode is Linux's nf_defrag_ipv6 ({@code nf_ct_frag6_gather},
   * net/ipv6/netfilter/nf_conntrack_reasm.c, has no atomic-fragment case).
   */
  INTACT_ATOMIC_FRAGMENTS,
  /**
   * An IPv6 packet whose extension-header chain runs past its end passes the rules that test a
   * protocol, port or type without matching them and meets the later rules (S56). Without it such a
   * packet is dropped at the first rule that tests a protocol: the kernel backend, whose ip6tables
   * rules drop it there ({@code ip6_packet_match} sets hotdrop when {@code ipv6_find_hdr} fails on
   * a first fragment, net/ipv6/netfilter/ip6_tables.c).
   */
  TRUNCATED_CHAINS_CONTINUE,
  /**
   * In always-defragment mode the backend counts its IPv6 reassembly as it counts IPv4's (S24 read
   * by S58): {@link HostStats#reassembled()} and every discard by its {@link DropReason} (timeout,
   * overlap, memory). Without it IPv6 datagrams are still reassembled and discarded as S24 says,
   * but only the timeouts are counted: the kernel backend, whose IPv6 reassembly is Linux's
   * nf_defrag_ipv6, where {@code nf_ct_frag6_gather} (net/ipv6/netfilter/nf_conntrack_reasm.c)
   * counts neither reassembled datagrams, overlaps nor fragments it had no memory for, and only
   * {@code ip6frag_expire_frag_queue} (include/net/ipv6_frag.h) adds to /proc/net/snmp6.
   */
  IPV6_REASSEMBLY_COUNTERS,
  /**
   * With {@link HostOptions#segmentOffload()} on, the backend delivers TCP and UDP super-packets
   * (GSO/GRO) whole with their segment size ({@link PacketBatch#segmentSize(int)}), and the stack
   * segments them when they are written back (SEMANTICS.md section N, S69). S70 (nothing larger
   * than the MTU with the option off) applies to every backend.
   */
  SEGMENT_OFFLOAD,
  /**
   * Delivered packets carry their firewall mark, the bits outside the backend's own, and a program
   * may set those bits on packets it writes back or injects ({@link PacketBatch#mark}, {@link
   * PacketBatch#setMark}); later rules, routing and other software see them (S73).
   */
  PACKET_MARK,
  /**
   * Delivered packets carry, where the backend knows them, a receive timestamp, the outbound
   * interface, the owning socket's uid and gid and the connection state ({@link
   * PacketBatch#metadata()}); absent values read as absent, never as zero (S75).
   */
  PACKET_META,
  /**
   * Rules' filters are evaluated where packets are diverted, before any reaches the program: a
   * packet its rule's filter rejects is never queued for the socket and never waits for the program
   * (S67). The kernel backend compiles filters to xt_bpf matches; the simulation evaluates them in
   * its simulated kernel.
   */
  KERNEL_FILTER,
  /**
   * Sniffer sockets ({@link DivertHost#bindSniffer(int)}, SEMANTICS.md section O, S71 and S72): a
   * socket that receives copies of the packets its port's rules match while the packets themselves
   * continue at once.
   */
  SNIFF,
  /**
   * The filter field {@code flow.Packets} (S68): the number of packets of the packet's connection
   * seen so far, both directions, this one included, so {@code flow.Packets <= 6} diverts the first
   * six packets of each connection, on every chain. The user-space stack (sim, pcap) counts in its
   * own table of connections. Without it a backend refuses, in {@code addRule}, a rule whose filter
   * uses the field ({@link org.divert4j.filter.Filter#usesFlow()}) wherever it cannot count it,
   * naming the reason and installing nothing: the kernel backend, which counts through connection
   * tracking (xt_connbytes) and so only on forward and output rules of always-defragment hosts
   * (docs/backends.md).
   */
  FLOW_COUNT
}
