package org.divert4j.stack;

import java.nio.ByteBuffer;
import org.divert4j.Chain;
import org.divert4j.Direction;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.NetInterface;
import org.divert4j.filter.Filter;
import org.divert4j.filter.FilterContext;
import org.divert4j.packet.Checksums;
import org.divert4j.packet.FragmentSink;

/**
 * The engine's chain walker: moves one packet along its path and delivers it (see {@link
 * DivertEngine} for the picture). A packet from a wire enters the input chain, is delivered locally
 * or forwarded (TTL or hop limit minus one) through the forward chain; a forwarded or locally sent
 * datagram is fragmented to the MTU before the output chain in PER_FRAGMENT mode (S19), then walks
 * the output chain and goes to the {@link Transmitter}. A DIVERT rule that matches takes the packet
 * to its socket's queue; a sniffer's gets a copy and the packet goes on (S71, S72).
 *
 * <p>It keeps the firewall mark of the packet moving now (S73): set where a packet enters (0 from a
 * wire, the sender's from the local stack, the program's when it sends), kept with a held packet,
 * and handed to the transmitter. One packet moves at a time, inside the engine's section; an entry
 * point that can be reached while another packet moves (the local stack answering) saves and
 * restores it.
 */
final class PacketPath {
  /** Origin of packets that no divert socket injected. */
  static final int NO_ORIGIN = 0;

  private final StackEnvironment env;
  private final HostOptions options;
  private final EngineInterfaces interfaces;
  private final RuleTable rules;
  private final Reassembly reassembly;
  private final Transmitter transmitter;
  private final MtuFragmenter fragmenter; // its own: the transmitter's may run inside it
  private final FlowCounter flows;
  private final EngineHooks hooks;
  private final FilterContext filterContext = new FilterContext(); // rules' filters (S64)

  private int mark;
  private long noListenerDrops;
  private long passedNoListener;

  // The current fragment's egress and origin, for the sink into the output chain.
  private int sinkOut;
  private int sinkOrigin;
  private final FragmentSink toOutputChain = fragment -> output(fragment, sinkOut, 0, sinkOrigin);

  PacketPath(
      StackEnvironment env,
      HostOptions options,
      EngineInterfaces interfaces,
      RuleTable rules,
      Reassembly reassembly,
      Transmitter transmitter,
      MtuFragmenter fragmenter,
      FlowCounter flows,
      EngineHooks hooks) {
    this.env = env;
    this.options = options;
    this.interfaces = interfaces;
    this.rules = rules;
    this.reassembly = reassembly;
    this.transmitter = transmitter;
    this.fragmenter = fragmenter;
    this.flows = flows;
    this.hooks = hooks;
  }

  /** The mark of the packet moving now (S73). */
  int mark() {
    return mark;
  }

  /** Sets the mark of the packet about to move; the caller restores the previous one after. */
  void setMark(int mark) {
    this.mark = mark;
  }

  /** Packets a rule dropped because its port had no socket (S11). */
  long noListenerDrops() {
    return noListenerDrops;
  }

  /** Packets that went on past a rule whose port had no socket (S12). */
  long passedNoListener() {
    return passedNoListener;
  }

  /** A packet arrived on an interface, with mark 0; see {@link DivertEngine#receive}. */
  void receive(ByteBuffer packet, int inInterface) {
    int saved = mark;
    try {
      mark = 0;
      input(packet, inInterface, 0, NO_ORIGIN, true);
    } finally {
      mark = saved;
    }
  }

  /**
   * The host's own stack sends a datagram; see {@link DivertEngine#originate(ByteBuffer, int,
   * int)}.
   *
   * @return false if there is no route to its destination (nothing was sent)
   */
  boolean originate(ByteBuffer packet, int mark, int linkInterface) {
    int saved = this.mark;
    this.mark = mark;
    try {
      boolean v6 = Ipv6Support.isIpv6(packet);
      int out =
          v6
              ? Ipv6Support.route(env, packet, linkInterface)
              : env.route(packet.getInt(packet.position() + 16));
      if (!interfaces.exists(out)) {
        return false;
      }
      ByteBuffer p = packet;
      if (hooks.reassemblesBeforeRules() && Reassembly.isFragment(p)) {
        p = reassembly.offer(p);
        if (p == null) {
          return true;
        }
      }
      egress(p, out, NO_ORIGIN, true);
      return true;
    } finally {
      this.mark = saved;
    }
  }

  /**
   * The input chain from a position, then local delivery or forwarding.
   *
   * @param fresh true for a packet that has not been through the input chain yet (it is reassembled
   *     first when that is done before the rules)
   */
  void input(ByteBuffer packet, int inIf, int start, int origin, boolean fresh) {
    ByteBuffer p = packet;
    if (fresh && hooks.reassemblesBeforeRules() && Reassembly.isFragment(p)) {
      p = reassembly.offer(p);
      if (p == null) {
        return;
      }
    }
    if (fresh) {
      flows.enter(p, true); // S68: once, where it enters, as conntrack at PREROUTING
    }
    if (traverse(Chain.INPUT, start, p, inIf, 0, origin)) {
      return;
    }
    if (Ipv6Support.isIpv6(p)) {
      input6(p, inIf, origin);
      return;
    }
    int base = p.position();
    int dst = p.getInt(base + 16);
    if (env.isLocal(dst)) {
      env.deliverLocal(p, inIf);
      return;
    }
    if (!env.forwarding()) {
      return; // not for us and not a router: dropped, as by Linux with ip_forward=0
    }
    int out = env.route(dst);
    if (!interfaces.exists(out)) {
      return;
    }
    int ttl = p.get(base + 8) & 0xff;
    if (ttl <= 1) {
      return; // time exceeded
    }
    // RFC 1624 incremental update for TTL - 1 (the TTL is the high byte of its 16-bit word).
    int oldWord = p.getShort(base + 8) & 0xffff;
    p.put(base + 8, (byte) (ttl - 1));
    int newWord = p.getShort(base + 8) & 0xffff;
    p.putShort(
        base + 10, (short) Checksums.adjust(p.getShort(base + 10) & 0xffff, oldWord, newWord));
    forward(p, inIf, out, 0, origin);
  }

  /** After the input chain, for IPv6: deliver locally, or forward (RFC 8200: hop limit only). */
  private void input6(ByteBuffer p, int inIf, int origin) {
    int dst = p.position() + 24;
    if (env.isLocal6(p, dst)) {
      env.deliverLocal(p, inIf);
      return;
    }
    // a link-local source or destination never leaves its link (RFC 4291 section 2.5.6)
    if (!env.forwarding()
        || Ipv6Support.isLinkLocal(p, dst)
        || Ipv6Support.isLinkLocal(p, p.position() + 8)) {
      return;
    }
    int out = env.route6(p, dst);
    if (!interfaces.exists(out)) {
      return;
    }
    if (!Ipv6Support.decrementHopLimit(p)) {
      return; // time exceeded
    }
    forward(p, inIf, out, 0, origin);
  }

  /** The forward chain from a position, then on to the egress. */
  void forward(ByteBuffer p, int inIf, int out, int start, int origin) {
    if (traverse(Chain.FORWARD, start, p, inIf, out, origin)) {
      return;
    }
    egress(p, out, origin, false);
  }

  /**
   * Before the output chain: in PER_FRAGMENT mode the output chain sees what goes on the wire.
   *
   * @param local true for a datagram of the host's own stack, false for a forwarded one (IPv6
   *     routers never fragment, RFC 8200 section 5)
   */
  private void egress(ByteBuffer p, int out, int origin, boolean local) {
    if (local) {
      flows.enter(p, false); // S68: as conntrack at LOCAL_OUT
    }
    NetInterface oi = interfaces.at(out);
    if (options.fragments() != FragmentMode.PER_FRAGMENT || p.remaining() <= oi.mtu()) {
      output(p, out, 0, origin);
      return;
    }
    boolean v6 = Ipv6Support.isIpv6(p);
    if (v6 && !local) {
      return; // forwarded: would be ICMPv6 "packet too big"; not modelled
    }
    if (!v6 && (p.get(p.position() + 6) & 0x40) != 0) {
      return; // DF: would be ICMP "fragmentation needed"; not modelled
    }
    int savedOut = sinkOut;
    int savedOrigin = sinkOrigin;
    sinkOut = out;
    sinkOrigin = origin;
    try {
      fragmenter.fragment(p, oi.mtu(), toOutputChain); // S19, S57
    } finally {
      sinkOut = savedOut;
      sinkOrigin = savedOrigin;
    }
  }

  /** The output chain from a position, then the wire. */
  void output(ByteBuffer p, int out, int start, int origin) {
    if (traverse(Chain.OUTPUT, start, p, 0, out, origin)) {
      return;
    }
    transmitter.transmit(p, out, mark);
  }

  /**
   * Runs a chain from a position.
   *
   * @return true if the packet was taken (diverted, or dropped)
   */
  private boolean traverse(Chain chain, int start, ByteBuffer p, int inIf, int outIf, int origin) {
    RuleEntry[] chainRules = rules.rules(chain);
    String in = interfaces.nameOrNull(inIf);
    String outName = interfaces.nameOrNull(outIf);
    for (int i = Math.max(0, start); i < chainRules.length; i++) {
      RuleEntry r = chainRules[i];
      if (origin != NO_ORIGIN && hooks.skipsOwnInjection(r.port, origin)) {
        continue;
      }
      if (!r.rule.matches(p, in, outName)) {
        continue;
      }
      Filter filter = r.rule.filter();
      if (filter != null && !filter.matches(p, filterContext(chain, inIf, outIf))) {
        continue; // S64: the filter is tested after the other matches
      }
      EngineSocket s = rules.socketAt(r.port);
      if (s == null) {
        if (hooks.dropsWithoutListener(r.noListener)) {
          noListenerDrops++;
          return true;
        }
        passedNoListener++;
        continue; // S12: as if the rule were absent
      }
      if (s.sniffer) {
        s.enqueue(p, chain, i, r.id, inIf, outIf, origin, mark); // S71: a copy, or a counted drop
        continue; // S71, S72: the packet itself goes on at once
      }
      switch (s.enqueue(p, chain, i, r.id, inIf, outIf, origin, mark)) {
        case EngineSocket.QUEUED:
          return true;
        case EngineSocket.FAIL_OPEN:
          continue; // S15 fail-open: as if not diverted
        default:
          return true; // dropped and counted: queue full
      }
    }
    return false;
  }

  /**
   * What a rule's filter knows besides the bytes: input and forward are inbound (see {@link
   * Direction}), with the arrival interface; output is outbound, with the egress interface; an
   * interface whose address is in 127.0.0.0/8 is a loopback interface.
   */
  private FilterContext filterContext(Chain chain, int inIf, int outIf) {
    int ifIdx = chain == Chain.OUTPUT ? outIf : inIf;
    return filterContext
        .set(
            chain == Chain.OUTPUT ? Direction.OUTBOUND : Direction.INBOUND,
            interfaces.isLoopback(ifIdx),
            ifIdx)
        .flowPackets(flows.current());
  }
}
