package org.divert4j.stack;

import java.nio.ByteBuffer;
import java.util.List;
import org.divert4j.NetInterface;

/**
 * What a {@link DivertEngine} needs from the backend that hosts it: the host's interfaces and
 * routes, the wire, the local stack, a clock and mutual exclusion. The simulation implements it
 * over simulated links; the pcap backend over two captured interfaces.
 *
 * <p>The engine calls every method with the exclusive section entered ({@link #enter()}), except
 * {@link #enter()} itself, {@link #captureDrops()} and {@link #synchronize()}. Buffers passed to
 * {@link #deliverLocal} and {@link #transmit} are valid only during the call: copy what must
 * outlive it.
 */
public interface StackEnvironment {
  /**
   * @return the host's interfaces (indices positive and unique); read once when the engine starts
   */
  List<NetInterface> interfaces();

  /**
   * @param destination a host-order IPv4 address
   * @return the index of the interface a packet to it leaves by, or 0 when there is no route
   */
  int route(int destination);

  /**
   * @param address a host-order IPv4 address
   * @return true if a packet to this address is for the host itself (after the input chain)
   */
  boolean isLocal(int address);

  /**
   * @return true if the host forwards packets that are not for itself
   */
  boolean forwarding();

  /**
   * Hands a packet that passed the input chain to the host's own stack. It may be a fragment (in
   * PER_FRAGMENT mode): the local stack reassembles, as Linux's {@code ip_local_deliver} does.
   *
   * @param packet the packet, from position to limit; valid only during the call
   * @param inInterface the index of the interface it arrived on
   */
  void deliverLocal(ByteBuffer packet, int inInterface);

  /**
   * Puts a packet on the wire. The engine has already made it fit the interface's MTU.
   *
   * @param packet the packet, from position to limit; valid only during the call
   * @param outInterface the index of the interface it leaves by
   */
  void transmit(ByteBuffer packet, int outInterface);

  /**
   * {@link #transmit(ByteBuffer, int)} for a packet with a firewall mark (S73): the packet leaves
   * the divert rules with this mark, which a backend with {@link
   * org.divert4j.Capability#PACKET_MARK} shows to what comes after them (routing, other rules, a
   * test bed's counters). The default ignores the mark.
   *
   * @param packet the packet, from position to limit; valid only during the call
   * @param outInterface the index of the interface
   * @param mark the packet's mark, an unsigned 32-bit pattern
   */
  default void transmit(ByteBuffer packet, int outInterface, int mark) {
    transmit(packet, outInterface);
  }

  /**
   * Packets the backend's capture layer lost before they reached the engine (for the pcap backend:
   * libpcap's {@code ps_drop} and {@code ps_ifdrop}, and its own capture handoff overflowing). The
   * engine reports them as {@link org.divert4j.DropReason#CAPTURE} in host statistics, and in each
   * socket's statistics for the time the socket is bound (a capture drop cannot be attributed to a
   * port: it might have been any socket's packet).
   *
   * <p>Unlike the other methods, called from any thread without the exclusive section: must be
   * thread-safe and must not block. Default: 0 (nothing is lost below the engine).
   *
   * @return the total so far; never decreases
   */
  default long captureDrops() {
    return 0;
  }

  /**
   * Packets the backend could not put on the wire after the engine passed them ({@link #transmit},
   * {@link #deliverLocal}, or frames it forwards without the engine): larger than the egress MTU,
   * or a failed send. The engine reports them as {@link org.divert4j.DropReason#TRANSMIT} in host
   * statistics. Called with the exclusive section entered. Default: 0.
   *
   * @return the total so far; never decreases
   */
  default long transmitDrops() {
    return 0;
  }

  /**
   * Called before a change of the host's configuration (binding or closing a socket, adding or
   * removing a rule), outside the exclusive section. A backend whose packets reach the engine
   * through buffers of its own (the pcap backend's capture threads) lets the engine process every
   * packet that had arrived before the call, so that the change takes effect after the packets
   * already on the wire, as it does on a kernel that queues packets as they arrive (S13, S14). May
   * block briefly; must return even under a continuous flood. Default: nothing to wait for.
   */
  default void synchronize() {}

  /**
   * @return the host's clock in nanoseconds (monotonic; virtual in the simulation)
   */
  long nanoTime();

  /**
   * @return what {@link #nanoTime()} is, for {@link org.divert4j.DivertHost#timestampClock()}
   *     (S75); default monotonic
   */
  default org.divert4j.TimestampClock timestampClock() {
    return org.divert4j.TimestampClock.MONOTONIC;
  }

  /**
   * Enters the exclusive section that serialises all packet processing of this host (and, in the
   * simulation, of the whole simulated network). Reentrant.
   */
  void enter();

  /**
   * Leaves the exclusive section. The outermost exit may first process work queued meanwhile (the
   * simulation delivers queued frames there).
   */
  void exit();
}
