package org.divert4j.sim.tck;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.divert4j.AddressNotAvailableException;
import org.divert4j.Chain;
import org.divert4j.Direction;
import org.divert4j.DivertAddress;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DropReason;
import org.divert4j.HostOptions;
import org.divert4j.HostStats;
import org.divert4j.MalformedPacketException;
import org.divert4j.NoRouteException;
import org.divert4j.PermissionException;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.TestBed;

/**
 * Broken backends whose fault a decorator of the simulation can express: wrong divert addresses,
 * pending packets reinjected on close, errors swallowed or disguised, a closed socket that answers
 * null, reordering.
 */
final class BrokenDecorators {
  private BrokenDecorators() {}

  /**
   * Reports a wrong interface for inbound packets, like a backend that reads the output instead of
   * the input interface index. Breaks S6.
   */
  static DivertProvider wrongInterface() {
    return Decorated.sockets(
        "broken-interface",
        s ->
            new OnReceive(s) {
              @Override
              DivertAddress received(ByteBuffer dst, Receive receive) throws DivertException {
                return wrong(receive.call());
              }
            });
  }

  /**
   * Counts every reassembly discard as memory exhaustion, like a backend that reads only Linux's
   * ReasmFails and not ReasmTimeout or ReasmOverlaps: the totals stay right, the reasons do not.
   * Breaks S24.
   */
  static DivertProvider mislabelsReassemblyDrops() {
    return Decorated.provider(
        "broken-reassembly-reasons",
        new Decorated.Fault() {
          @Override
          public HostStats stats(DivertHost host) {
            HostStats s = host.stats();
            long[] d = new long[DropReason.values().length];
            for (DropReason r : DropReason.values()) {
              d[r.ordinal()] = s.dropped(r);
            }
            for (DropReason r :
                List.of(DropReason.REASSEMBLY_TIMEOUT, DropReason.REASSEMBLY_OVERLAP)) {
              d[DropReason.REASSEMBLY_MEMORY.ordinal()] += d[r.ordinal()];
              d[r.ordinal()] = 0;
            }
            return new HostStats(s.passedNoListener(), s.reassembled(), d);
          }
        });
  }

  private static DivertAddress wrong(DivertAddress a) {
    if (a == null || a.direction() != Direction.INBOUND) {
      return a;
    }
    Chain chain = a.chain().orElseThrow();
    return DivertAddress.received(
        a.port(),
        chain,
        "bogus0",
        a.interfaceIndex() + 10,
        a.interfaceAddressBits(),
        a.ruleId(),
        a.ticket());
  }

  /**
   * Writes back every pending packet (held or still queued) when the socket closes, as WinDivert
   * does, instead of dropping them. Breaks S14.
   */
  static DivertProvider reinjectsPendingOnClose() {
    return Decorated.sockets(
        "broken-close",
        s ->
            new OnReceive(s) {
              private final List<Object[]> held = new ArrayList<>();

              @Override
              DivertAddress received(ByteBuffer dst, Receive receive) throws DivertException {
                int start = dst.position();
                DivertAddress a = receive.call();
                if (a != null) {
                  byte[] b = new byte[dst.position() - start];
                  dst.duplicate().position(start).get(b);
                  held.add(new Object[] {b, a});
                }
                return a;
              }

              @Override
              public void send(ByteBuffer packet, DivertAddress address) throws DivertException {
                super.send(packet, address);
                held.removeIf(h -> ((DivertAddress) h[1]).ticket() == address.ticket());
              }

              @Override
              public void drop(DivertAddress address) throws DivertException {
                super.drop(address);
                held.removeIf(h -> ((DivertAddress) h[1]).ticket() == address.ticket());
              }

              @Override
              public void close() {
                try {
                  if (isOpen()) {
                    ByteBuffer buf = ByteBuffer.allocate(65535);
                    while (receive(buf.clear(), Duration.ZERO) != null) {
                      // everything queued is now held
                    }
                    for (Object[] h : new ArrayList<>(held)) {
                      super.send(ByteBuffer.wrap((byte[]) h[0]), (DivertAddress) h[1]);
                    }
                  }
                } catch (DivertException e) {
                  // best effort, as the fault would be
                }
                super.close();
              }
            });
  }

  /**
   * Injects outbound when the injection address is not local, instead of refusing it. Breaks S36.
   */
  static DivertProvider fallsBackToOutbound() {
    return Decorated.sockets(
        "broken-address",
        s ->
            new Decorated.Forwarding(s) {
              @Override
              public void send(ByteBuffer packet, DivertAddress address) throws DivertException {
                try {
                  super.send(packet.duplicate(), address);
                  packet.position(packet.limit());
                } catch (AddressNotAvailableException e) {
                  super.send(packet, DivertAddress.OUTBOUND);
                }
              }
            });
  }

  /** Drops malformed packets silently instead of refusing them. Breaks S47. */
  static DivertProvider dropsMalformedSilently() {
    return swallows("broken-malformed", MalformedPacketException.class);
  }

  /** Drops packets with no route silently instead of refusing them. Breaks S49. */
  static DivertProvider swallowsNoRoute() {
    return swallows("broken-no-route", NoRouteException.class);
  }

  /** A send that meets {@code refusal} consumes the packet as if sent, and reports nothing. */
  private static DivertProvider swallows(String name, Class<? extends DivertException> refusal) {
    return Decorated.sockets(
        name,
        s ->
            new Decorated.Forwarding(s) {
              @Override
              public void send(ByteBuffer packet, DivertAddress address) throws DivertException {
                try {
                  super.send(packet, address);
                } catch (DivertException e) {
                  if (!refusal.isInstance(e)) {
                    throw e;
                  }
                  packet.position(packet.limit());
                }
              }
            });
  }

  /**
   * A closed socket's receive answers "nothing arrived" (null) instead of failing with "closed",
   * and a receive blocked when it closes does the same. Breaks S51.
   */
  static DivertProvider closedReceiveReturnsNull() {
    return Decorated.sockets(
        "broken-closed-receive",
        s ->
            new OnReceive(s) {
              @Override
              DivertAddress received(ByteBuffer dst, Receive receive) throws DivertException {
                try {
                  return receive.call();
                } catch (org.divert4j.DivertClosedException e) {
                  return null;
                }
              }
            });
  }

  /** Lets EPERM escape as a generic error without naming the privileges. Breaks S46. */
  static DivertProvider rawPermissionError() {
    return Decorated.provider(
        "broken-permission",
        new Decorated.Fault() {
          @Override
          public DivertHost openUnprivileged(TestBed bed, HostOptions options)
              throws DivertException {
            try {
              return bed.openUnprivileged(options);
            } catch (PermissionException e) {
              throw new DivertException("operation not permitted", 1, null);
            }
          }
        });
  }

  /**
   * Hands out packets of a socket in pairs, the second first, as a backend spreading one port over
   * two queues might. Does not meet S52 (a SHOULD rule: aborted, not failed).
   */
  static DivertProvider reorders() {
    return Decorated.sockets(
        "broken-order",
        s ->
            new Decorated.Forwarding(s) {
              private final Deque<Object[]> ready = new ArrayDeque<>();

              @Override
              public DivertAddress receive(ByteBuffer dst, Duration timeout)
                  throws DivertException {
                if (ready.isEmpty()) {
                  ByteBuffer b = ByteBuffer.allocate(65535);
                  DivertAddress first = super.receive(b, timeout);
                  if (first == null) {
                    return null;
                  }
                  byte[] one = bytes(b.flip());
                  DivertAddress second = super.receive(b.clear(), Duration.ZERO);
                  if (second != null) {
                    ready.add(new Object[] {bytes(b.flip()), second});
                  }
                  ready.add(new Object[] {one, first});
                }
                byte[] next = (byte[]) ready.peek()[0];
                if (dst.remaining() < next.length) {
                  throw new org.divert4j.BufferTooSmallException(next.length, dst.remaining());
                }
                dst.put(next);
                return (DivertAddress) ready.poll()[1];
              }

              @Override
              public DivertAddress receive(ByteBuffer dst) throws DivertException {
                return receive(dst, Duration.ofDays(1));
              }
            });
  }

  private static byte[] bytes(ByteBuffer b) {
    byte[] out = new byte[b.remaining()];
    b.get(out);
    return out;
  }

  /**
   * Limits new inbound injections to the interface MTU, like a backend that injects through a TUN
   * device (written-back packets still pass, as with NF_ACCEPT). Breaks S53.
   */
  static DivertProvider limitsInboundInjectionToTheMtu() {
    return Decorated.sockets(
        "broken-inbound-mtu",
        s ->
            new Decorated.Forwarding(s) {
              @Override
              public void send(ByteBuffer packet, DivertAddress address) throws DivertException {
                if (address.direction() == Direction.INBOUND && address.ticket() == 0) {
                  for (org.divert4j.NetInterface i : host().interfaces()) {
                    if (i.addressBits() == address.interfaceAddressBits()
                        && packet.remaining() > i.mtu()) {
                      throw new org.divert4j.PacketTooLargeException(
                          packet.remaining(), i.mtu(), "tun0", 90);
                    }
                  }
                }
                super.send(packet, address);
              }
            });
  }

  /**
   * Keeps only the first 65535 bytes of a longer packet instead of refusing it, as a 16-bit length
   * would. Breaks S31.
   */
  static DivertProvider truncatesTo65535() {
    return Decorated.sockets(
        "broken-65535",
        s ->
            new Decorated.Forwarding(s) {
              @Override
              public void send(ByteBuffer packet, DivertAddress address) throws DivertException {
                if (packet.remaining() > 65535) {
                  ByteBuffer cut = packet.duplicate();
                  cut.limit(cut.position() + 65535);
                  super.send(cut, address);
                  packet.position(packet.limit());
                  return;
                }
                super.send(packet, address);
              }
            });
  }

  /**
   * A socket whose fault is in what its two single-packet receives return: both pass through {@link
   * #received}, so a fault overrides one method instead of two alike.
   */
  abstract static class OnReceive extends Decorated.Forwarding {
    /** One of the simulation's receives, into the caller's buffer. */
    interface Receive {
      DivertAddress call() throws DivertException;
    }

    OnReceive(Decorated.Forwarding socket) {
      super(socket);
    }

    /**
     * @param dst the caller's buffer, which {@code receive} fills
     * @param receive the simulation's receive, with or without a timeout
     * @return what the program gets
     * @throws DivertException as the fault wishes
     */
    abstract DivertAddress received(ByteBuffer dst, Receive receive) throws DivertException;

    @Override
    public final DivertAddress receive(ByteBuffer dst, Duration timeout) throws DivertException {
      return received(dst, () -> super.receive(dst, timeout));
    }

    @Override
    public final DivertAddress receive(ByteBuffer dst) throws DivertException {
      return received(dst, () -> super.receive(dst));
    }
  }
}
