package org.divert4j.stack;

import java.net.Inet6Address;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.divert4j.AddressNotAvailableException;
import org.divert4j.Capability;
import org.divert4j.Chain;
import org.divert4j.Direction;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DropReason;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.HostStats;
import org.divert4j.Ipv4;
import org.divert4j.NetInterface;
import org.divert4j.NoListenerPolicy;
import org.divert4j.NoRouteException;
import org.divert4j.PacketTooLargeException;
import org.divert4j.filter.Filter;
import org.divert4j.filter.FilterContext;
import org.divert4j.packet.Checksums;
import org.divert4j.packet.FragmentSink;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv4View;
import org.divert4j.packet.Ipv6Fragmenter;
import org.divert4j.packet.Ipv6Reassembler;
import org.divert4j.packet.Ipv6View;
import org.divert4j.packet.Reassembler;
import org.divert4j.packet.SendFixups;

/**
 * A user-space IP stack layer that implements divert semantics (SEMANTICS.md) for backends that
 * have no kernel firewall to lean on: the three chains with their ipchains meaning, DIVERT rules,
 * the no-listener policy, both fragment modes, the MTU limit, header fix-ups and loop prevention.
 * The simulation and the pcap backend run on it; a third-party backend may too.
 *
 * <p>The backend supplies a {@link StackEnvironment} (interfaces, routes, wire, local stack, clock,
 * mutual exclusion) and feeds the engine with {@link #receive(ByteBuffer, int)} (a packet arrived
 * on an interface) and {@link #originate(ByteBuffer)} (the host's own stack sends). Programs use
 * the engine through {@link #openHost(HostOptions)}.
 *
 * <p>Packet path, as a forwarded packet sees it:
 *
 * <pre>
 *   wire -> [reassemble if ALWAYS_DEFRAGMENT] -> input chain -> local? deliverLocal
 *        -> (forwarding) TTL-1 -> forward chain -> [fragment to MTU if PER_FRAGMENT]
 *        -> output chain -> [fragment to MTU if ALWAYS_DEFRAGMENT] -> wire
 * </pre>
 *
 * A DIVERT rule that matches takes the packet to its socket's queue; a packet written back resumes
 * after that rule (S43, S44). If the port's socket is a sniffer, the rule puts a copy in its queue
 * and the packet goes on at once (S71, S72). Locally generated packets enter at the output side.
 *
 * <p>Subclasses may override the protected hooks; the TCK's self-tests use that to build
 * deliberately broken backends. Thread-safe: all processing runs inside the environment's exclusive
 * section.
 */
public class DivertEngine {
  /** Origin of packets that no divert socket injected. */
  static final int NO_ORIGIN = 0;

  private static final RuleEntry[] NO_RULES = new RuleEntry[0];

  /** The largest IPv6 packet without a Jumbo Payload option: the header plus 65535 (S31, S59). */
  static final int IPV6_MAX = Ipv6View.HEADER_LENGTH + Ipv6View.MAX_PAYLOAD_LENGTH;

  /** The engine-wide options (fragment mode and reassembly come from here). */
  protected final HostOptions options;

  /** The backend's side of the engine. */
  protected final StackEnvironment env;

  private final String backend;
  private final String hostName;
  private final Set<Capability> capabilities;
  private final List<NetInterface> interfaces;
  private final NetInterface[] byIndex;
  private final String[] names;
  private final int[]
      addressBits; // byIndex[i].addressBits(), computed once (it copies the address)
  private final Reassembler reassembler;
  private final Ipv6Reassembler reassembler6; // S63: never shares a buffer with IPv4's
  private final Ipv6Fragmenter fragmenter6 = new Ipv6Fragmenter();
  private final Fragmenter egressFragmenter = new Fragmenter();
  private final Fragmenter transmitFragmenter = new Fragmenter();
  private final Ipv4View view = new Ipv4View();
  private final Ipv4View fixUpView = new Ipv4View();
  private final FilterContext filterContext = new FilterContext(); // rules' filters (S64)
  private FlowTable flows; // S68: while rules that use flow.Packets are installed
  private int flowRules;
  private long flowPackets; // the moving packet's connection count, 0 if unknown (S68)
  private final Ipv6View view6 = new Ipv6View();
  private final Ipv6View fixUpView6 = new Ipv6View();
  private final Ipv6Support six;
  private final java.util.function.IntSupplier nextIpIds = this::nextIpId;
  private final PacketPool pool = new PacketPool(64, 4);

  /**
   * The firewall mark of the packet the engine is moving now (S73): set where a packet enters (0
   * from a wire, the sender's from the local stack, the program's when it sends), kept with a held
   * packet, and handed to {@link StackEnvironment#transmit(ByteBuffer, int, int)}. The engine runs
   * one packet at a time inside its section; an entry point that can be reached while another
   * packet moves (the local stack answering) saves and restores it.
   */
  private int mark;

  private final RuleEntry[][] chains = {NO_RULES, NO_RULES, NO_RULES};
  private final EngineSocket[] sockets = new EngineSocket[65536];
  private volatile EngineSocket[] bound = new EngineSocket[0];
  private final long[] drops = new long[DropReason.values().length];
  private final List<EngineHost> handles = new ArrayList<>();
  private long passedNoListener;
  private long reassembledCount;
  private int nextRuleId = 1;
  private int nextSocketSerial = 1;
  private int nextHandle = 1;
  private int ipId;
  private int fragmentId6; // S63: an identification space of its own

  // Scratch state for the fragment sinks (the engine is single-threaded inside its section).
  private int sinkOutInterface;
  private int sinkOrigin;
  private final FragmentSink toOutputChain =
      fragment -> output(fragment, sinkOutInterface, 0, sinkOrigin);
  private final FragmentSink toWire;

  /**
   * Creates an engine.
   *
   * @param backend the backend's name, reported by hosts
   * @param hostName the host's name
   * @param capabilities what hosts of this engine can do
   * @param options engine-wide options: fragment mode, reassembly limits, and the defaults for the
   *     first handle
   * @param env the backend's side
   */
  public DivertEngine(
      String backend,
      String hostName,
      Set<Capability> capabilities,
      HostOptions options,
      StackEnvironment env) {
    this.backend = Objects.requireNonNull(backend, "backend");
    this.hostName = Objects.requireNonNull(hostName, "hostName");
    this.capabilities = Set.copyOf(capabilities);
    this.options = Objects.requireNonNull(options, "options");
    this.env = Objects.requireNonNull(env, "env");
    this.toWire = fragment -> env.transmit(fragment, sinkOutInterface, mark);
    this.interfaces = List.copyOf(env.interfaces());
    int max = 0;
    for (NetInterface i : interfaces) {
      max = Math.max(max, i.index());
    }
    this.byIndex = new NetInterface[max + 1];
    this.names = new String[max + 1];
    this.addressBits = new int[max + 1];
    for (NetInterface i : interfaces) {
      byIndex[i.index()] = i;
      names[i.index()] = i.name();
      addressBits[i.index()] = i.addressBits();
    }
    this.six = new Ipv6Support(interfaces, max);
    this.reassembler =
        new Reassembler(
            options.reassemblyMemory(),
            Math.max(64, (int) Math.min(65536, options.reassemblyMemory() / 1024)),
            options.reassemblyTimeout().toNanos(),
            env::nanoTime);
    this.reassembler6 =
        new Ipv6Reassembler(
            options.reassemblyMemory(),
            Math.max(64, (int) Math.min(65536, options.reassemblyMemory() / 1024)),
            options.reassemblyTimeout().toNanos(),
            env::nanoTime);
    this.ipId = hostName.hashCode() & 0x7fff;
    this.fragmentId6 = hostName.hashCode() * 0x9e3779b1;
  }

  /**
   * Opens a handle on this engine, as one program would: rules it adds carry its no-listener
   * policy, sockets it binds its queue length, fail-open and hold time. The fragment mode and
   * reassembly limits are the engine's, whatever the handle's options say.
   *
   * @param options the handle's options
   * @return the handle; closing it removes its rules and sockets only
   */
  public DivertHost openHost(HostOptions options) {
    env.enter();
    try {
      EngineHost h = new EngineHost(this, hostName + "#" + nextHandle++, options);
      handles.add(h);
      return h;
    } finally {
      env.exit();
    }
  }

  /**
   * A packet arrived on an interface. The engine may modify the buffer's contents.
   *
   * @param packet the packet, from position to limit; valid only during the call
   * @param inInterface the index of the interface it arrived on
   */
  public void receive(ByteBuffer packet, int inInterface) {
    env.enter();
    int saved = mark;
    try {
      mark = 0;
      input(packet, inInterface, 0, NO_ORIGIN, true);
    } finally {
      mark = saved;
      env.exit();
    }
  }

  /**
   * {@link #receive} for a caller that is already inside the environment's section (between its own
   * {@link StackEnvironment#enter()} and {@link StackEnvironment#exit()}, on this thread): the same
   * path without entering the section again, which saves two lock-state writes per packet on a
   * backend's hot path (issue 7).
   *
   * @param packet the packet, from position to limit; valid only during the call
   * @param inInterface the index of the interface it arrived on
   */
  public void receiveInSection(ByteBuffer packet, int inInterface) {
    int saved = mark;
    try {
      mark = 0;
      input(packet, inInterface, 0, NO_ORIGIN, true);
    } finally {
      mark = saved;
    }
  }

  /**
   * The host's own stack sends a datagram: it is routed, and in PER_FRAGMENT mode fragmented to the
   * egress MTU before the output chain sees it (S19). The engine may modify the buffer's contents.
   *
   * <p>A fragment (the host's stack fragmented already, as the pcap backend sees it on the wire, or
   * a raw socket sent one) is reassembled first when fragments are reassembled before the rules
   * (ALWAYS_DEFRAGMENT, S21), as Linux's {@code nf_defrag_ipv4} does at LOCAL_OUT; until the
   * datagram is complete nothing is sent and this returns true.
   *
   * @param packet the datagram, from position to limit, headers complete; valid only during the
   *     call
   * @return false if there is no route to its destination (nothing was sent)
   */
  public boolean originate(ByteBuffer packet) {
    return originate(packet, 0);
  }

  /**
   * {@link #originate(ByteBuffer)} for a datagram whose socket has a firewall mark (S73: a backend
   * with {@link org.divert4j.Capability#PACKET_MARK} delivers it with the packet and hands it to
   * {@link StackEnvironment#transmit(ByteBuffer, int, int)}).
   *
   * @param packet the datagram, from position to limit, headers complete; valid only during the
   *     call
   * @param mark its mark, an unsigned 32-bit pattern
   * @return false if there is no route to its destination (nothing was sent)
   */
  public boolean originate(ByteBuffer packet, int mark) {
    return originate(packet, mark, 0);
  }

  /**
   * {@link #originate(ByteBuffer, int)} for a datagram of either family whose stack chose the
   * egress interface of a link-local IPv6 destination (the destination's scope, S60).
   *
   * @param packet the datagram, from position to limit, headers complete; valid only during the
   *     call
   * @param mark its mark, an unsigned 32-bit pattern
   * @param linkInterface the egress interface for a link-local IPv6 destination, 0 for none; other
   *     destinations are routed
   * @return false if there is no route to its destination (nothing was sent)
   */
  public boolean originate(ByteBuffer packet, int mark, int linkInterface) {
    env.enter();
    int saved = this.mark;
    this.mark = mark;
    try {
      boolean v6 = Ipv6Support.isIpv6(packet);
      int out =
          v6
              ? Ipv6Support.route(env, packet, linkInterface)
              : env.route(packet.getInt(packet.position() + 16));
      if (out <= 0 || out >= byIndex.length || byIndex[out] == null) {
        return false;
      }
      ByteBuffer p = packet;
      if (reassemblesBeforeRules() && isFragment(p)) {
        p = reassemble(p);
        if (p == null) {
          return true;
        }
      }
      egress(p, out, NO_ORIGIN, true);
      return true;
    } finally {
      this.mark = saved;
      env.exit();
    }
  }

  /**
   * How many more packets the fullest bound socket can queue (waiting plus held stay below its
   * queue length). A backend that replays recorded traffic uses it to wait for the program instead
   * of overflowing its queues (S15 applies to live traffic, not to a replay).
   *
   * @return the smallest room of any bound diverting socket, or {@link Integer#MAX_VALUE} when none
   *     is bound (a sniffer never holds traffic back, S71)
   */
  public int room() {
    int min = Integer.MAX_VALUE;
    for (EngineSocket s : bound) {
      if (!s.sniffer) {
        min = Math.min(min, s.room());
      }
    }
    return min;
  }

  /**
   * @return how many packets bound diverting sockets hold now: waiting to be received, or received
   *     and not yet written back or dropped (a sniffer's copies are not the traffic's, S71)
   */
  public int pending() {
    int n = 0;
    for (EngineSocket s : bound) {
      if (!s.sniffer) {
        n += s.pending();
      }
    }
    return n;
  }

  /**
   * Runs what falls due on the engine's clock: reassembly timeouts and held packets past their hold
   * time. Backends with a virtual clock call it after advancing; others may call it periodically
   * (the engine also does this lazily).
   */
  public void tick() {
    env.enter();
    try {
      reassembler.expire();
      reassembler6.expire();
      long now = env.nanoTime();
      for (EngineSocket s : sockets) {
        if (s != null) {
          s.expireHeld(now, true);
        }
      }
    } finally {
      env.exit();
    }
  }

  /**
   * The reassembly memory in use now, as {@link Reassembler#bytesHeld()} counts it (payload plus a
   * fixed overhead per held fragment), both families together. Each family reassembles in its own
   * buffer (S63), bounded by {@link HostOptions#reassemblyMemory()} on its own: with IPv4 traffic
   * only (or IPv6 only) this is never more than that bound. For monitoring and for the tests that
   * prove the bound under attack. Thread-safe: takes the engine's section briefly (it waits while
   * another thread is inside it); allocates nothing.
   *
   * @return bytes held by fragments waiting for their datagram (0 unless fragments are reassembled
   *     before the rules)
   */
  public long reassemblyBytesHeld() {
    env.enter();
    try {
      return reassembler.bytesHeld() + reassembler6.bytesHeld();
    } finally {
      env.exit();
    }
  }

  /**
   * What the engine holds for its handles, as lines that compare equal when nothing changed: each
   * chain's rules in order (id, port, policy, rule) and each bound port. It is the simulation's
   * counterpart of the kernel state a kernel backend leaves in the namespace (S51); test beds
   * return it from {@link org.divert4j.testbed.TestBed#hostState()}. Thread-safe: takes the
   * engine's section briefly. Allocates (it is not for hot paths).
   *
   * @return the lines, rules first in chain order, then ports in binding order
   */
  public List<String> state() {
    env.enter();
    try {
      List<String> out = new ArrayList<>();
      Chain[] names = Chain.values();
      for (int c = 0; c < chains.length; c++) {
        for (RuleEntry e : chains[c]) {
          out.add(
              "rule "
                  + names[c]
                  + " #"
                  + e.id
                  + " -> "
                  + e.port
                  + " "
                  + e.noListener
                  + ": "
                  + e.rule);
        }
      }
      for (EngineSocket s : bound) {
        out.add("bound " + s.port());
      }
      return out;
    } finally {
      env.exit();
    }
  }

  /**
   * @return the interfaces the engine serves
   */
  public List<NetInterface> interfaces() {
    return interfaces;
  }

  /**
   * @return the engine-wide options
   */
  public HostOptions options() {
    return options;
  }

  // ---------------------------------------------------------------- hooks for subclasses

  /**
   * Whether fragments are reassembled before the input chain (S21). Default: in ALWAYS_DEFRAGMENT
   * mode.
   *
   * @return true to reassemble
   */
  protected boolean reassemblesBeforeRules() {
    return options.fragments() == FragmentMode.ALWAYS_DEFRAGMENT;
  }

  /**
   * What a matching rule does when its port has no socket (S11, S12).
   *
   * @param policy the rule's policy
   * @return true to drop the packet, false to let it continue
   */
  protected boolean dropsWithoutListener(NoListenerPolicy policy) {
    return policy == NoListenerPolicy.DROP;
  }

  /**
   * Applies the header fix-ups of SEMANTICS.md section H to a packet about to be sent: total
   * length, a non-zero ID, the header checksum; for IPv6 (S61) the payload length only.
   *
   * @param packet the engine's own copy, position 0
   */
  protected void fixUpHeader(ByteBuffer packet) {
    // S38-S40 (also with DF, Q12); for IPv6 S61: the payload length only
    SendFixups.apply(
        packet, packet.position(), packet.remaining(), fixUpView, fixUpView6, nextIpIds);
  }

  /**
   * The MTU check on an outbound send (S27-S30). Default: refuse anything longer than the MTU in
   * PER_FRAGMENT mode, and DF datagrams longer than it in ALWAYS_DEFRAGMENT mode.
   *
   * @param length the packet's length
   * @param dontFragment its DF flag (IPv6 has none: false, S59)
   * @param out the egress interface
   * @throws PacketTooLargeException if it may not be sent
   */
  protected void checkMtu(int length, boolean dontFragment, NetInterface out)
      throws PacketTooLargeException {
    if (length <= out.mtu()) {
      return;
    }
    if (options.fragments() == FragmentMode.PER_FRAGMENT) {
      throw new PacketTooLargeException(
          length, out.mtu(), "egress interface " + out.name() + ", PER_FRAGMENT mode", 0);
    }
    if (dontFragment) {
      throw new PacketTooLargeException(
          length, out.mtu(), "egress interface " + out.name() + ", DF set", 0);
    }
  }

  /**
   * Where a written-back packet resumes in its chain (S43, S44). Default: after the rule that
   * diverted it.
   *
   * @param ruleIndex the position of that rule when the packet was diverted
   * @return the position to resume at
   */
  protected int resumeAfter(int ruleIndex) {
    return ruleIndex + 1;
  }

  /**
   * Whether a packet entering the chains is counted in its connection for {@code flow.Packets}
   * (S68): every packet, both directions. The TCK's self-tests override it.
   *
   * @param inbound true for a packet from an interface, false for one the host sends
   * @return true to count it, false to read its connection's count without counting it
   */
  protected boolean countsInFlow(boolean inbound) {
    return true;
  }

  /**
   * Whether a rule may take a packet that a socket injected (S45). Default: never a packet injected
   * by the socket of the rule's own port.
   *
   * @param rulePort the rule's divert port
   * @param originPort the port of the socket that injected the packet, or 0
   * @return true if the rule is skipped for this packet
   */
  protected boolean skipsOwnInjection(int rulePort, int originPort) {
    return rulePort == originPort;
  }

  // ---------------------------------------------------------------- the packet path

  private void input(ByteBuffer packet, int inIf, int start, int origin, boolean fresh) {
    ByteBuffer p = packet;
    if (fresh && reassemblesBeforeRules() && isFragment(p)) {
      p = reassemble(p);
      if (p == null) {
        return;
      }
    }
    if (fresh) {
      flowPackets = countFlow(p, true); // S68: once, where it enters, as conntrack at PREROUTING
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
    if (out <= 0 || out >= byIndex.length || byIndex[out] == null) {
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
    if (out <= 0 || out >= byIndex.length || byIndex[out] == null) {
      return;
    }
    if (!Ipv6Support.decrementHopLimit(p)) {
      return; // time exceeded
    }
    forward(p, inIf, out, 0, origin);
  }

  private void forward(ByteBuffer p, int inIf, int out, int start, int origin) {
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
      flowPackets = countFlow(p, false); // S68: as conntrack at LOCAL_OUT
    }
    NetInterface oi = byIndex[out];
    if (options.fragments() == FragmentMode.PER_FRAGMENT && p.remaining() > oi.mtu()) {
      if (Ipv6Support.isIpv6(p)) {
        if (local) {
          fragment6(p, oi.mtu(), out, origin, toOutputChain);
        }
        return; // forwarded: would be ICMPv6 "packet too big"; not modelled
      }
      if ((p.get(p.position() + 6) & 0x40) != 0) {
        return; // DF: would be ICMP "fragmentation needed"; not modelled
      }
      int savedOut = sinkOutInterface;
      int savedOrigin = sinkOrigin;
      sinkOutInterface = out;
      sinkOrigin = origin;
      try {
        egressFragmenter.fragment(p, oi.mtu(), toOutputChain);
      } catch (DivertException e) {
        throw new IllegalStateException(e);
      } finally {
        sinkOutInterface = savedOut;
        sinkOrigin = savedOrigin;
      }
      return;
    }
    output(p, out, 0, origin);
  }

  private void output(ByteBuffer p, int out, int start, int origin) {
    if (traverse(Chain.OUTPUT, start, p, 0, out, origin)) {
      return;
    }
    toWire(p, out);
  }

  private void toWire(ByteBuffer p, int out) {
    NetInterface oi = byIndex[out];
    if (p.remaining() <= oi.mtu()) {
      env.transmit(p, out, mark);
      return;
    }
    if (Ipv6Support.isIpv6(p)) {
      fragment6(p, oi.mtu(), out, NO_ORIGIN, toWire); // S58: a new Identification
      return;
    }
    if ((p.get(p.position() + 6) & 0x40) != 0) {
      return; // DF and too large: dropped
    }
    int savedOut = sinkOutInterface;
    sinkOutInterface = out;
    try {
      transmitFragmenter.fragment(p, oi.mtu(), toWire); // S23, S25, S29
    } catch (DivertException e) {
      throw new IllegalStateException(e);
    } finally {
      sinkOutInterface = savedOut;
    }
  }

  /**
   * Runs a chain from a position.
   *
   * @return true if the packet was taken (diverted, or dropped)
   */
  private boolean traverse(Chain chain, int start, ByteBuffer p, int inIf, int outIf, int origin) {
    RuleEntry[] rules = chains[chain.ordinal()];
    String in = inIf > 0 && inIf < names.length ? names[inIf] : null;
    String outName = outIf > 0 && outIf < names.length ? names[outIf] : null;
    for (int i = Math.max(0, start); i < rules.length; i++) {
      RuleEntry r = rules[i];
      if (origin != NO_ORIGIN && skipsOwnInjection(r.port, origin)) {
        continue;
      }
      if (!r.rule.matches(p, in, outName)) {
        continue;
      }
      Filter filter = r.rule.filter();
      if (filter != null && !filter.matches(p, filterContext(chain, inIf, outIf))) {
        continue; // S64: the filter is tested after the other matches
      }
      EngineSocket s = sockets[r.port];
      if (s == null) {
        if (dropsWithoutListener(r.noListener)) {
          drops[DropReason.NO_LISTENER.ordinal()]++;
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
    boolean loopback =
        ifIdx > 0 && ifIdx < addressBits.length && (addressBits[ifIdx] >>> 24) == 127;
    return filterContext
        .set(chain == Chain.OUTPUT ? Direction.OUTBOUND : Direction.INBOUND, loopback, ifIdx)
        .flowPackets(flowPackets);
  }

  /** Counts a packet in its connection while a rule reads the count (S68); 0 otherwise. */
  private long countFlow(ByteBuffer p, boolean inbound) {
    if (flowRules == 0) {
      return 0;
    }
    long now = env.nanoTime();
    return countsInFlow(inbound) ? flows.count(p, now) : flows.peek(p, now);
  }

  private static boolean isFragment(ByteBuffer p) {
    if (Ipv6Support.isIpv6(p)) {
      return Ipv6Support.isFragment(p);
    }
    return (p.getShort(p.position() + 6) & 0x3fff) != 0;
  }

  /**
   * Offers a fragment to its family's reassembler (S63: the families share no buffer).
   *
   * @return the whole datagram, or null while it is incomplete (or was discarded)
   */
  private ByteBuffer reassemble(ByteBuffer p) {
    ByteBuffer whole = Ipv6Support.isIpv6(p) ? reassembler6.offer(p) : reassembler.offer(p);
    if (whole != null) {
      reassembledCount++;
    }
    return whole;
  }

  /** Fragments an IPv6 datagram to the MTU with a new Identification, each fragment to a sink. */
  private void fragment6(ByteBuffer p, int mtu, int out, int origin, FragmentSink sink) {
    int savedOut = sinkOutInterface;
    int savedOrigin = sinkOrigin;
    sinkOutInterface = out;
    sinkOrigin = origin;
    try {
      fragmenter6.fragment(p, mtu, nextFragmentId6(), sink); // S57, S58
    } catch (DivertException e) {
      // The unfragmentable part leaves no room in the MTU (or the datagram is malformed): Linux's
      // ip6_fragment fails with EMSGSIZE and the datagram is dropped; so here.
    } finally {
      sinkOutInterface = savedOut;
      sinkOrigin = savedOrigin;
    }
  }

  /** The next IPv6 fragment Identification: non-zero, its own space (S63). */
  private int nextFragmentId6() {
    fragmentId6++;
    if (fragmentId6 == 0) {
      fragmentId6 = 1;
    }
    return fragmentId6;
  }

  private int nextIpId() {
    ipId = (ipId + 1) & 0xffff;
    if (ipId == 0) {
      ipId = 1;
    }
    return ipId;
  }

  // ---------------------------------------------------------------- socket side

  /**
   * Sends for a socket: writes a held packet back, or injects a new one (see {@link
   * org.divert4j.DivertSocket#send}), with the program's mark if it gave one ({@link
   * org.divert4j.PacketBatch#mark}), else the held packet's (0 for a new one).
   *
   * @param inboundAddress the IPv4 interface address to inject inbound at, 0 for none
   * @param inboundAddress6 the IPv6 interface address to inject inbound at, null for none
   */
  void send(
      EngineSocket s,
      ByteBuffer packet,
      long ticket,
      int inboundAddress,
      Inet6Address inboundAddress6,
      boolean withMark,
      int programMark)
      throws DivertException {
    int len = packet.remaining();
    boolean v6 = Ipv6Support.isIpv6(packet);
    if (v6 && len > IPV6_MAX) {
      throw new PacketTooLargeException(len, IPV6_MAX, "IPv6 maximum: 40 + 65535 bytes", 0);
    }
    if (!v6 && len > PacketTooLargeException.IPV4_MAX) {
      throw new PacketTooLargeException(len, PacketTooLargeException.IPV4_MAX, "", 0); // S31
    }
    env.enter();
    int saved = mark;
    try {
      s.checkOpen();
      if (v6) {
        view6.wrap(packet).validateForSend(); // S62, S59 (jumbograms)
      } else {
        view.wrap(packet).validateForSend(); // S47
      }
      ByteBuffer p = pool.copyOf(packet);
      try {
        fixUpHeader(p);
        boolean df = !v6 && (p.get(6) & 0x40) != 0;
        EngineSocket.Held h = ticket != 0 ? s.held(ticket) : null;
        mark = withMark ? programMark : h != null ? h.mark : 0;
        if (h != null) {
          reinject(s, h, p, df);
        } else if (inboundAddress6 != null) {
          int in = six.interfaceWith(inboundAddress6); // S60
          s.countInjected(len);
          input(p, in, 0, s.port, true); // S53: no MTU limit inbound
        } else if (inboundAddress == 0) {
          int out = routeOrThrow(p, 0);
          checkMtu(len, df, byIndex[out]);
          s.countInjected(len);
          flowPackets = countFlow(p, false); // S68: a new packet of its connection
          output(p, out, 0, s.port);
        } else {
          int in = interfaceWithAddress(inboundAddress);
          s.countInjected(len);
          input(p, in, 0, s.port, true); // S33, S53: no MTU limit inbound
        }
      } finally {
        pool.give(p);
      }
      packet.position(packet.limit());
    } finally {
      mark = saved;
      env.exit();
    }
  }

  private void reinject(EngineSocket s, EngineSocket.Held h, ByteBuffer p, boolean df)
      throws DivertException {
    int len = p.remaining();
    Chain chain = h.chain;
    int resume = resumeIndex(chain, h.ruleId, h.ruleIndex);
    // resolve() frees the held slot: a receive on another thread may reuse it at once (it takes
    // only the socket's lock), so nothing is read from h after it
    int inIf = h.inIf;
    int origin = h.origin;
    int outIf = h.outIf;
    flowPackets = flowRules > 0 ? flows.peek(p, env.nanoTime()) : 0; // S68: counted when taken
    switch (chain) {
      case INPUT -> {
        s.resolve(h, len);
        input(p, inIf, resume, origin, false);
      }
      case FORWARD -> {
        int out = routeOrThrow(p, outIf);
        s.resolve(h, len);
        forward(p, inIf, out, resume, origin);
      }
      case OUTPUT -> {
        int out = routeOrThrow(p, outIf);
        checkMtu(len, df, byIndex[out]);
        s.resolve(h, len);
        output(p, out, resume, origin);
      }
    }
  }

  /** The rule's current position plus one, or where it was if it has been removed since. */
  private int resumeIndex(Chain chain, int ruleId, int ruleIndex) {
    RuleEntry[] rules = chains[chain.ordinal()];
    if (ruleIndex < rules.length && rules[ruleIndex].id == ruleId) {
      return resumeAfter(ruleIndex);
    }
    for (int i = 0; i < rules.length; i++) {
      if (rules[i].id == ruleId) {
        return resumeAfter(i);
      }
    }
    return Math.min(ruleIndex, rules.length);
  }

  /**
   * @param linkInterface the interface of the packet's divert address: where a link-local IPv6
   *     destination leaves (S60); 0 for none
   */
  private int routeOrThrow(ByteBuffer p, int linkInterface) throws NoRouteException {
    if (Ipv6Support.isIpv6(p)) {
      int out = Ipv6Support.route(env, p, linkInterface);
      if (out <= 0 || out >= byIndex.length || byIndex[out] == null) {
        throw Ipv6Support.noRoute(p); // S49, S60
      }
      return out;
    }
    int dst = p.getInt(p.position() + 16);
    int out = env.route(dst);
    if (out <= 0 || out >= byIndex.length || byIndex[out] == null) {
      throw new NoRouteException(Ipv4.fromInt(dst), 0); // S49
    }
    return out;
  }

  private int interfaceWithAddress(int address) throws AddressNotAvailableException {
    for (NetInterface i : interfaces) {
      if (i.addressBits() == address) {
        return i.index();
      }
    }
    throw new AddressNotAvailableException(Ipv4.fromInt(address)); // S36
  }

  void drop(EngineSocket s, long ticket) throws DivertException {
    env.enter();
    try {
      s.checkOpen();
      EngineSocket.Held h = s.held(ticket);
      if (h != null) {
        s.dropHeld(h);
      }
    } finally {
      env.exit();
    }
  }

  // ---------------------------------------------------------------- host handles

  EngineSocket bind(EngineHost owner, int port, HostOptions o, boolean sniffer)
      throws DivertException {
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("divert port must be 1..65535: " + port); // S2
    }
    env.synchronize();
    env.enter();
    try {
      if (sockets[port] != null) {
        throw new org.divert4j.PortInUseException(port, 0); // S2
      }
      EngineSocket s = new EngineSocket(this, owner, port, nextSocketSerial++ & 0xffff, o, sniffer);
      sockets[port] = s; // S13: diversion to it starts now
      EngineSocket[] b = Arrays.copyOf(bound, bound.length + 1);
      b[b.length - 1] = s;
      bound = b;
      return s;
    } finally {
      env.exit();
    }
  }

  void unbind(EngineSocket s) {
    env.synchronize();
    env.enter();
    try {
      if (sockets[s.port] == s) {
        sockets[s.port] = null; // S13: no-listener behaviour from now on
        EngineSocket[] b = new EngineSocket[Math.max(0, bound.length - 1)];
        int n = 0;
        for (EngineSocket x : bound) {
          if (x != s && n < b.length) {
            b[n++] = x;
          }
        }
        bound = n == b.length ? b : Arrays.copyOf(b, n);
      }
      s.closeInternal(); // S14
    } finally {
      env.exit();
    }
  }

  RuleEntry addRule(EngineHost owner, int ownIndex, org.divert4j.DivertRule rule, HostOptions o) {
    env.synchronize();
    env.enter();
    try {
      int c = rule.chain().ordinal();
      RuleEntry[] old = chains[c];
      RuleEntry e = new RuleEntry(rule, nextRuleId++, o.noListener(), owner);
      int at = old.length;
      if (ownIndex >= 0) {
        int seen = 0;
        for (int i = 0; i < old.length; i++) {
          if (old[i].owner == owner) {
            if (seen == ownIndex) {
              at = i;
              break;
            }
            seen++;
          }
        }
        if (at == old.length && seen < ownIndex) {
          throw new IndexOutOfBoundsException(
              "index "
                  + ownIndex
                  + " but this host has "
                  + seen
                  + " rules in "
                  + rule.chain().keyword());
        }
      }
      if (rule.filter() != null && rule.filter().usesFlow() && flowRules++ == 0) {
        flows = new FlowTable(); // S68: counting starts with the first rule that reads it
      }
      RuleEntry[] n = new RuleEntry[old.length + 1];
      System.arraycopy(old, 0, n, 0, at);
      n[at] = e;
      System.arraycopy(old, at, n, at + 1, old.length - at);
      chains[c] = n;
      return e;
    } finally {
      env.exit();
    }
  }

  void removeRule(RuleEntry e) {
    env.synchronize();
    env.enter();
    try {
      if (!e.installed) {
        return;
      }
      e.installed = false;
      if (e.rule.filter() != null && e.rule.filter().usesFlow() && --flowRules == 0) {
        flows = null;
      }
      int c = e.rule.chain().ordinal();
      RuleEntry[] old = chains[c];
      int at = Arrays.asList(old).indexOf(e);
      if (at >= 0) {
        RuleEntry[] n = new RuleEntry[old.length - 1];
        System.arraycopy(old, 0, n, 0, at);
        System.arraycopy(old, at + 1, n, at, old.length - at - 1);
        chains[c] = n;
      }
    } finally {
      env.exit();
    }
  }

  List<RuleEntry> rulesOf(EngineHost owner) {
    env.enter();
    try {
      List<RuleEntry> out = new ArrayList<>();
      for (RuleEntry[] chain : chains) {
        for (RuleEntry e : chain) {
          if (e.owner == owner) {
            out.add(e);
          }
        }
      }
      return out;
    } finally {
      env.exit();
    }
  }

  void closed(EngineHost h) {
    env.enter();
    try {
      handles.remove(h);
    } finally {
      env.exit();
    }
  }

  HostStats stats() {
    env.enter();
    try {
      long[] d = drops.clone();
      for (DropReason r :
          new DropReason[] {
            DropReason.REASSEMBLY_TIMEOUT,
            DropReason.REASSEMBLY_OVERLAP,
            DropReason.REASSEMBLY_MEMORY,
            DropReason.REASSEMBLY_INVALID
          }) {
        d[r.ordinal()] += reassembler.discarded(r) + reassembler6.discarded(r);
      }
      d[DropReason.CAPTURE.ordinal()] += env.captureDrops();
      d[DropReason.TRANSMIT.ordinal()] += env.transmitDrops();
      return new HostStats(passedNoListener, reassembledCount, d);
    } finally {
      env.exit();
    }
  }

  String backend() {
    return backend;
  }

  Set<Capability> capabilities() {
    return capabilities;
  }

  NetInterface interfaceAt(int index) {
    return index > 0 && index < byIndex.length ? byIndex[index] : null;
  }

  /** The name of the interface with this index, or "" if there is none. */
  String interfaceName(int index) {
    String n = index > 0 && index < names.length ? names[index] : null;
    return n == null ? "" : n;
  }

  /** The address of the interface with this index (host order), or 0 if there is none. */
  int interfaceAddress(int index) {
    return index > 0 && index < addressBits.length ? addressBits[index] : 0;
  }

  /** The first IPv6 address of the interface with this index (S55), shared; null if none. */
  Inet6Address interfaceAddress6(int index) {
    return six.firstAddress(index);
  }

  long now() {
    return env.nanoTime();
  }

  org.divert4j.TimestampClock timestampClock() {
    return env.timestampClock();
  }

  long captureDrops() {
    return env.captureDrops();
  }

  void enter() {
    env.enter();
  }

  void exit() {
    env.exit();
  }
}
