package org.divert4j.sim.tck;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.divert4j.AddressNotAvailableException;
import org.divert4j.Chain;
import org.divert4j.Direction;
import org.divert4j.DivertAddress;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.InstalledRule;
import org.divert4j.Ipv4;
import org.divert4j.MalformedPacketException;
import org.divert4j.PacketBatch;
import org.divert4j.PacketMetadata;
import org.divert4j.PortInUseException;
import org.divert4j.SocketStats;
import org.divert4j.spi.BatchAccess;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.TestBedOptions;

/**
 * One broken backend per MUST rule that {@link BrokenEngines} and {@link BrokenDecorators} did not
 * break on its own, in the manner of mutation testing: each is the simulation with one small,
 * realistic fault, so that the TCK's tests of that rule are shown to catch something. {@link
 * BrokenBackendsTest} checks which rules each one fails; tck/README.md lists them.
 */
final class BrokenRules {
  private BrokenRules() {}

  /**
   * A socket serves only the chain of the first packet it received, as if a socket were identified
   * by port and chain (a queue per chain); the other chain's packets are dropped. Breaks S1.
   */
  static DivertProvider servesOneChainPerSocket() {
    return Decorated.sockets(
        "broken-one-chain",
        s ->
            new BrokenDecorators.OnReceive(s) {
              private Chain first;

              @Override
              DivertAddress received(ByteBuffer dst, Receive receive) throws DivertException {
                while (true) {
                  int start = dst.position();
                  DivertAddress a = receive.call();
                  if (a == null || a.chain().isEmpty()) {
                    return a;
                  }
                  if (first == null) {
                    first = a.chain().get();
                  }
                  if (a.chain().get() == first) {
                    return a;
                  }
                  dst.position(start);
                  drop(a);
                }
              }
            });
  }

  /**
   * Installs a rule without its filter, as a backend that knows only the ipchains vocabulary would:
   * every packet the other matches select is diverted. Breaks S64 to S68 (S66 checks that a long
   * filter the backend accepts is evaluated, S67 that what a filter rejects never waits, S68 that
   * only the first packets of each connection are diverted).
   */
  static DivertProvider ignoresFilters() {
    return Decorated.provider(
        "broken-ignores-filters",
        new Decorated.Fault() {
          @Override
          public InstalledRule addRule(DivertHost host, DivertRule rule) throws DivertException {
            return host.addRule(
                rule.toBuilder().filter((org.divert4j.filter.Filter) null).divertTo(rule.port()));
          }
        });
  }

  /**
   * Installs a rule restricted to one family ({@code -4}/{@code -6}) for both families, as a
   * backend that writes every rule into both iptables and ip6tables would. Breaks S54.
   */
  static DivertProvider ignoresRuleFamily() {
    return Decorated.provider(
        "broken-family",
        new Decorated.Fault() {
          @Override
          public InstalledRule addRule(DivertHost host, DivertRule rule) throws DivertException {
            if (rule.family().isEmpty()) {
              return host.addRule(rule);
            }
            return host.addRule(rule.toBuilder().family(null).divertTo(rule.port()));
          }
        });
  }

  /**
   * Binding a port that is bound already "succeeds" with a socket that never receives anything, as
   * if the second bind took another queue. Breaks S2.
   */
  static DivertProvider secondBindSucceeds() {
    return Decorated.provider(
        "broken-second-bind",
        new Decorated.Fault() {
          @Override
          public DivertSocket bind(DivertHost host, int port) throws DivertException {
            try {
              return host.bind(port);
            } catch (PortInUseException e) {
              return host.bind(65001);
            }
          }
        });
  }

  /**
   * Removing a rule reports it removed but leaves it diverting until the host closes, as a backend
   * that deletes iptables rules lazily would. Breaks S3.
   */
  static DivertProvider removalIsDeferred() {
    return Decorated.provider(
        "broken-removal",
        new Decorated.Fault() {
          @Override
          public InstalledRule addRule(DivertHost host, DivertRule rule) throws DivertException {
            InstalledRule real = host.addRule(rule);
            return new InstalledRule() {
              private volatile boolean removed;

              @Override
              public int id() {
                return real.id();
              }

              @Override
              public DivertRule rule() {
                return real.rule();
              }

              @Override
              public boolean isInstalled() {
                return !removed && real.isInstalled();
              }

              @Override
              public void remove() {
                removed = true;
              }
            };
          }
        });
  }

  /** Inserting a rule appends it, as {@code iptables -A} instead of {@code -I} would. Breaks S5. */
  static DivertProvider appendsInsertedRules() {
    return Decorated.provider(
        "broken-insert",
        new Decorated.Fault() {
          @Override
          public InstalledRule insertRule(DivertHost host, int index, DivertRule rule)
              throws DivertException {
            return host.addRule(rule);
          }
        });
  }

  /**
   * A forward rule is installed on the input chain, so that locally addressed packets reach it.
   * Breaks S4 (and the forward-chain tests of other rules, which see the wrong chain).
   */
  static DivertProvider forwardRulesOnInput() {
    return Decorated.provider(
        "broken-forward-chain",
        new Decorated.Fault() {
          @Override
          public InstalledRule addRule(DivertHost host, DivertRule rule) throws DivertException {
            if (rule.chain() == Chain.FORWARD) {
              return host.addRule(
                  DivertRule.parse("input" + rule.toString().substring("forward".length())));
            }
            return host.addRule(rule);
          }
        });
  }

  /**
   * Packets longer than 65531 bytes are received cut to 65531, NFQUEUE's largest copy, with no
   * error. Breaks S8.
   */
  static DivertProvider truncatesAtTheNetlinkCopyRange() {
    return Decorated.sockets(
        "broken-copy-range",
        s ->
            new BrokenDecorators.OnReceive(s) {
              @Override
              DivertAddress received(ByteBuffer dst, Receive receive) throws DivertException {
                int start = dst.position();
                DivertAddress a = receive.call();
                if (a != null && dst.position() - start > 65531) {
                  dst.position(start + 65531);
                }
                return a;
              }
            });
  }

  /**
   * Reports what it does not know as 0 rather than absent: uid and gid 0 (root) and interface 0 for
   * every received packet. Breaks S75.
   */
  static DivertProvider zeroForAbsentMetadata() {
    return Decorated.sockets(
        "broken-zero-metadata",
        s ->
            new Decorated.Forwarding(s) {
              @Override
              public int receive(PacketBatch batch, Duration timeout) throws DivertException {
                int n = super.receive(batch, timeout);
                PacketMetadata m = batch.metadata();
                for (int i = 0; i < n; i++) {
                  BatchAccess.get()
                      .setMetadata(
                          batch,
                          i,
                          m.timestamp(i),
                          Math.max(0, m.outInterfaceIndex(i)),
                          0,
                          0,
                          m.connectionState(i));
                }
                return n;
              }
            });
  }

  /** Dropping a received packet accepts it instead, like a default ACCEPT verdict. Breaks S9. */
  static DivertProvider dropAccepts() {
    return Decorated.sockets("broken-drop", s -> new Remembering(s, false));
  }

  /**
   * Ignores failOpen: a full queue drops, as a backend that never sets NFQA_CFG_F_FAIL_OPEN. Breaks
   * S15.
   */
  static DivertProvider ignoresFailOpen() {
    return Decorated.provider(
        "broken-fail-open",
        new Decorated.Fault() {
          @Override
          public TestBedOptions testBedOptions(TestBedOptions options) {
            return options.host().failOpen()
                ? options.toBuilder()
                    .host(options.host().toBuilder().failOpen(false).build())
                    .build()
                : options;
          }
        });
  }

  /**
   * Non-first fragments diverted on output are written back at once and never delivered, as a
   * backend that diverts on output only what it can match by port. Breaks S19.
   */
  static DivertProvider hidesLaterOutputFragments() {
    return Decorated.sockets(
        "broken-output-fragments",
        s ->
            new BrokenDecorators.OnReceive(s) {
              @Override
              DivertAddress received(ByteBuffer dst, Receive receive) throws DivertException {
                while (true) {
                  int start = dst.position();
                  DivertAddress a = receive.call();
                  if (a == null
                      || a.chain().orElse(null) != Chain.OUTPUT
                      || fragmentOffset(dst, start) == 0) {
                    return a;
                  }
                  ByteBuffer packet = dst.duplicate().position(start).limit(dst.position());
                  dst.position(start);
                  send(packet, a);
                }
              }
            });
  }

  /** The fragment offset field of the packet at {@code start} (IPv6: of its Fragment header). */
  private static int fragmentOffset(ByteBuffer b, int start) {
    if ((b.get(start) & 0xf0) != 0x60) {
      return b.getShort(start + 6) & 0x1fff;
    }
    long w = org.divert4j.packet.Ipv6View.walk(b, start, b.position());
    int f = org.divert4j.packet.Ipv6View.fragmentHeader(w); // from the IPv6 header; 0: none
    return f == 0 ? 0 : (b.getShort(start + f + 2) & 0xfff8);
  }

  /**
   * A packet sent with no address at all is refused, as if the zero address named an interface.
   * Breaks S32.
   */
  static DivertProvider refusesSendWithoutAddress() {
    return Decorated.sockets(
        "broken-no-address",
        s ->
            new Decorated.Forwarding(s) {
              @Override
              public void send(ByteBuffer packet) throws DivertException {
                if (!isOpen()) {
                  super.send(packet);
                  return;
                }
                throw new AddressNotAvailableException(Ipv4.ANY);
              }
            });
  }

  /**
   * New well-formed inbound injections are consumed and never delivered, as a backend whose inbound
   * path writes into the wrong namespace. Breaks S33.
   */
  static DivertProvider losesInboundInjections() {
    return Decorated.sockets(
        "broken-inbound-injection",
        s ->
            new Decorated.Forwarding(s) {
              @Override
              public void send(ByteBuffer packet, DivertAddress address) throws DivertException {
                if (address.direction() == Direction.INBOUND
                    && address.ticket() == 0
                    && wellFormedSmall(packet)) {
                  packet.position(packet.limit());
                  return;
                }
                super.send(packet, address);
              }
            });
  }

  /** A plain IPv4 header, total length equal to the bytes, no MF, at most 1500 bytes. */
  private static boolean wellFormedSmall(ByteBuffer p) {
    int at = p.position();
    int len = p.remaining();
    return len >= 20
        && len <= 1500
        && (p.get(at) & 0xff) == 0x45
        && (p.getShort(at + 2) & 0xffff) == len
        && (p.getShort(at + 6) & 0x2000) == 0;
  }

  /**
   * Written-back inbound ICMP is re-sent outbound, routed by its destination, as a backend that
   * reinjects ICMP through a raw socket. Breaks S35.
   */
  static DivertProvider reinjectsIcmpOutbound() {
    return Decorated.sockets(
        "broken-direction",
        s ->
            new Decorated.Forwarding(s) {
              @Override
              public void send(ByteBuffer packet, DivertAddress address) throws DivertException {
                if (address.ticket() != 0
                    && address.direction() == Direction.INBOUND
                    && packet.remaining() > 9
                    && packet.get(packet.position() + 9) == 1) {
                  super.drop(address);
                  super.send(packet, DivertAddress.OUTBOUND);
                  return;
                }
                super.send(packet, address);
              }
            });
  }

  /**
   * A malformed packet written back (rather than built) is dropped silently: the write-back path
   * skips the checks the injection path makes. Breaks S42.
   */
  static DivertProvider skipsChecksOnWriteBack() {
    return Decorated.sockets(
        "broken-write-back-checks",
        s ->
            new Decorated.Forwarding(s) {
              @Override
              public void send(ByteBuffer packet, DivertAddress address) throws DivertException {
                try {
                  super.send(packet, address);
                } catch (MalformedPacketException e) {
                  if (address.ticket() == 0) {
                    throw e;
                  }
                  super.drop(address);
                  packet.position(packet.limit());
                }
              }
            });
  }

  /**
   * A resized datagram written back goes out as it was received, as an NFQUEUE verdict without its
   * new payload would. Breaks S25.
   */
  static DivertProvider ignoresResizedWriteBack() {
    return Decorated.sockets("broken-resize", s -> new Remembering(s, true));
  }

  /**
   * After a queue overflow, once the queue ran empty, the socket receives nothing more, as a
   * receive loop that ends on ENOBUFS. Breaks S50.
   */
  static DivertProvider stopsReceivingAfterOverflow() {
    return Decorated.sockets(
        "broken-after-overflow",
        s ->
            new BrokenDecorators.OnReceive(s) {
              private boolean dead;

              @Override
              DivertAddress received(ByteBuffer dst, Receive receive) throws DivertException {
                if (dead && isOpen()) {
                  return null;
                }
                DivertAddress a = receive.call();
                if (a == null && stats().dropped(DropReason.QUEUE_FULL) > 0) {
                  dead = true;
                }
                return a;
              }
            });
  }

  /**
   * Remembers the bytes of each received packet by ticket. With {@code resize}, a written-back
   * packet whose length changed goes out as received (S25); without, dropping an outbound packet
   * writes it back unchanged instead (S9).
   */
  private static final class Remembering extends BrokenDecorators.OnReceive {
    private final Map<Long, byte[]> held = new HashMap<>();
    private final boolean resize;

    Remembering(Decorated.Forwarding s, boolean resize) {
      super(s);
      this.resize = resize;
    }

    @Override
    DivertAddress received(ByteBuffer dst, Receive receive) throws DivertException {
      int start = dst.position();
      DivertAddress a = receive.call();
      if (a != null) {
        byte[] b = new byte[dst.position() - start];
        dst.duplicate().position(start).get(b);
        held.put(a.ticket(), b);
      }
      return a;
    }

    @Override
    public void send(ByteBuffer packet, DivertAddress address) throws DivertException {
      byte[] original = held.remove(address.ticket());
      if (resize && original != null && original.length != packet.remaining()) {
        super.send(ByteBuffer.wrap(original), address);
        packet.position(packet.limit());
        return;
      }
      super.send(packet, address);
    }

    @Override
    public void drop(DivertAddress address) throws DivertException {
      byte[] original = held.remove(address.ticket());
      if (!resize && original != null && address.direction() == Direction.OUTBOUND) {
        super.send(ByteBuffer.wrap(original), address);
        return;
      }
      super.drop(address);
    }
  }

  /**
   * A sniffer's copies lost to its full queue are not counted, as a kernel backend that ignores the
   * gaps in nfnetlink_log's sequence numbers would. Breaks S71.
   */
  static DivertProvider snifferLosesCopiesUncounted() {
    return Decorated.sockets(
        "broken-sniff-uncounted",
        s ->
            new Decorated.Forwarding(s) {
              @Override
              public SocketStats stats() {
                SocketStats real = delegate.stats();
                if (!isSniffer()) {
                  return real;
                }
                long[] drops = new long[DropReason.values().length];
                for (DropReason r : DropReason.values()) {
                  drops[r.ordinal()] = r == DropReason.QUEUE_FULL ? 0 : real.dropped(r);
                }
                return new SocketStats(
                    real.received(),
                    real.receivedBytes(),
                    real.reinjected(),
                    real.injected(),
                    real.sentBytes(),
                    real.failOpenAccepted(),
                    real.held(),
                    drops);
              }
            });
  }

  /**
   * A sniffer's rule accepts the packet after copying it, as an NFLOG line followed by ACCEPT
   * would: the later rules of its chain never see the packet (modelled by removing them when the
   * sniffer binds). Breaks S72.
   */
  static DivertProvider snifferRuleAcceptsThePacket() {
    return Decorated.provider(
        "broken-sniff-accepts",
        new Decorated.Fault() {
          @Override
          public DivertSocket bindSniffer(DivertHost host, int port) throws DivertException {
            Chain chain = null;
            for (InstalledRule r : host.rules()) {
              if (chain == null && r.rule().port() == port) {
                chain = r.rule().chain();
              } else if (chain != null && r.rule().chain() == chain) {
                r.remove();
              }
            }
            return host.bindSniffer(port);
          }
        });
  }
}
