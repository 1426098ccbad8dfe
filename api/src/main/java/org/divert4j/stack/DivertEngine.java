package org.divert4j.stack;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.divert4j.Capability;
import org.divert4j.DivertHost;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.NetInterface;
import org.divert4j.NoListenerPolicy;
import org.divert4j.PacketTooLargeException;
import org.divert4j.packet.Ipv4View;
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
  /** The engine-wide options (fragment mode and reassembly come from here). */
  protected final HostOptions options;

  /** The backend's side of the engine. */
  protected final StackEnvironment env;

  // A facade over its parts, each handed what it needs: EngineInterfaces (lookups by index),
  // RuleTable (chains and bound ports), PacketPath (the chain walker and delivery), Transmitter
  // (the wire, fragmenting to the MTU), SendPath (write-back and injection), Reassembly, and
  // EngineHandles (what handles and sockets ask: ports, rules, stats).
  private final EngineInterfaces interfaces;
  private final Reassembly reassembly;
  private final RuleTable rules = new RuleTable();
  private final FlowCounter flows;
  private final PacketPath path;
  private final EngineHandles handles;
  private final Ipv4View fixUpView = new Ipv4View();
  private final Ipv6View fixUpView6 = new Ipv6View();
  private final java.util.function.IntSupplier nextIpIds;

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
    Objects.requireNonNull(backend, "backend");
    Objects.requireNonNull(hostName, "hostName");
    Set<Capability> caps = Set.copyOf(capabilities);
    this.options = Objects.requireNonNull(options, "options");
    this.env = Objects.requireNonNull(env, "env");
    this.interfaces = new EngineInterfaces(env.interfaces());
    Identifications ids = new Identifications(hostName);
    this.nextIpIds = ids::nextIpv4;
    this.reassembly = new Reassembly(options, env::nanoTime);
    EngineHooks hooks = new Hooks();
    this.flows = new FlowCounter(env, hooks);
    this.path =
        new PacketPath(
            env,
            options,
            interfaces,
            rules,
            reassembly,
            new Transmitter(env, interfaces, new MtuFragmenter(ids)),
            new MtuFragmenter(ids),
            flows,
            hooks);
    SendPath sendPath = new SendPath(env, interfaces, rules, path, flows, hooks);
    this.handles =
        new EngineHandles(
            backend, hostName, caps, env, interfaces, rules, flows, path, sendPath, reassembly);
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
    return handles.open(options);
  }

  /**
   * A packet arrived on an interface. The engine may modify the buffer's contents.
   *
   * @param packet the packet, from position to limit; valid only during the call
   * @param inInterface the index of the interface it arrived on
   */
  public void receive(ByteBuffer packet, int inInterface) {
    env.enter();
    try {
      path.receive(packet, inInterface);
    } finally {
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
    path.receive(packet, inInterface);
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
    try {
      return path.originate(packet, mark, linkInterface);
    } finally {
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
    return rules.room();
  }

  /**
   * @return how many packets bound diverting sockets hold now: waiting to be received, or received
   *     and not yet written back or dropped (a sniffer's copies are not the traffic's, S71)
   */
  public int pending() {
    return rules.pending();
  }

  /**
   * Runs what falls due on the engine's clock: reassembly timeouts and held packets past their hold
   * time. Backends with a virtual clock call it after advancing; others may call it periodically
   * (the engine also does this lazily).
   */
  public void tick() {
    env.enter();
    try {
      reassembly.expire();
      rules.expireHeld(env.nanoTime());
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
      return reassembly.bytesHeld();
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
      return rules.state();
    } finally {
      env.exit();
    }
  }

  /**
   * @return the interfaces the engine serves
   */
  public List<NetInterface> interfaces() {
    return interfaces.list();
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

  /** The hooks as the engine's parts ask for them: each calls this engine's, overridden or not. */
  private final class Hooks implements EngineHooks {
    @Override
    public boolean reassemblesBeforeRules() {
      return DivertEngine.this.reassemblesBeforeRules();
    }

    @Override
    public boolean countsInFlow(boolean inbound) {
      return DivertEngine.this.countsInFlow(inbound);
    }

    @Override
    public boolean dropsWithoutListener(NoListenerPolicy policy) {
      return DivertEngine.this.dropsWithoutListener(policy);
    }

    @Override
    public void fixUpHeader(ByteBuffer packet) {
      DivertEngine.this.fixUpHeader(packet);
    }

    @Override
    public void checkMtu(int length, boolean dontFragment, NetInterface out)
        throws PacketTooLargeException {
      DivertEngine.this.checkMtu(length, dontFragment, out);
    }

    @Override
    public int resumeAfter(int ruleIndex) {
      return DivertEngine.this.resumeAfter(ruleIndex);
    }

    @Override
    public boolean skipsOwnInjection(int rulePort, int originPort) {
      return DivertEngine.this.skipsOwnInjection(rulePort, originPort);
    }
  }
}
