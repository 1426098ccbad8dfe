package org.divert4j.rawsocket.internal;

import java.net.Inet6Address;
import java.nio.ByteBuffer;
import java.util.function.IntSupplier;
import org.divert4j.AddressNotAvailableException;
import org.divert4j.Chain;
import org.divert4j.DivertException;
import org.divert4j.DropReason;
import org.divert4j.Ipv4;
import org.divert4j.Ipv6Addresses;
import org.divert4j.NoRouteException;
import org.divert4j.PacketTooLargeException;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;
import org.divert4j.linux.Native;
import org.divert4j.packet.FragmentSink;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv4View;
import org.divert4j.packet.Ipv6Fragmenter;
import org.divert4j.packet.Ipv6View;
import org.divert4j.packet.SendFixups;

/**
 * The raw-socket half of a kernel socket's send path: new packets (injection, S32-S36, S42, S45),
 * held packets that cannot go back as a verdict, the MTU rules of section F, and the mapping of the
 * raw socket's errnos to the API's errors. Raw sends are marked ({@link Marks}) so that the rules
 * let them pass where they must (S43-S45).
 *
 * <p>Not thread-safe: used under the socket's send lock.
 */
final class Injector {
  private final int port;
  private final SendBuffer out;
  private final RawSender raw;
  private final Interfaces ifaces;
  private final SocketLedger ledger;
  private final Verdicts verdicts;
  private final IntSupplier ids;
  private final boolean perFragment;
  private final IngressPath ingress;
  private final Marks marks;
  private final Fragmenter fragmenter = new Fragmenter(true);
  private final FragmentSink fragmentSink = this::sendFragment;
  private final Ipv6Fragmenter fragmenter6 = new Ipv6Fragmenter(true);
  private final FragmentSink fragmentSink6 = this::sendFragment6;
  private int fragmentOif;
  private int fragmentDst;
  private int fragmentMark;

  Injector(
      int port,
      SendBuffer out,
      RawSender raw,
      Interfaces ifaces,
      SocketLedger ledger,
      Verdicts verdicts,
      IntSupplier ids,
      Marks marks,
      boolean perFragment,
      IngressPath ingress) {
    this.marks = marks;
    this.port = port;
    this.out = out;
    this.raw = raw;
    this.ifaces = ifaces;
    this.ledger = ledger;
    this.verdicts = verdicts;
    this.ids = ids;
    this.perFragment = perFragment;
    this.ingress = ingress;
  }

  /**
   * Injects the loaded packet (never intercepted).
   *
   * @param len its length
   * @param inboundAddress for IPv4: a local interface address to inject inbound at, or 0 for
   *     outbound
   * @param inboundAddress6 for IPv6: a local interface address to inject inbound at, or null (or
   *     {@code ::}) for outbound (S60)
   * @param own the mark the program gives it (only the bits outside the backend's mask are used,
   *     S73); the backend adds its injector slot (S45)
   */
  void inject(int len, int inboundAddress, Inet6Address inboundAddress6, int own)
      throws DivertException {
    if (out.isIpv6()) {
      inject6(len, inboundAddress6, own);
      return;
    }
    Ipv4View v = SendFixups.apply(out.view(len), ids);
    int dst = v.destination();
    int mark = marks.injected(own, port);
    if (inboundAddress != 0) {
      InterfaceSnapshot snap = ifaces.get();
      if (!snap.isLocal(inboundAddress)) {
        snap = ifaces.knowing(Integer.MAX_VALUE);
        if (!snap.isLocal(inboundAddress)) {
          throw new AddressNotAvailableException(Ipv4.fromInt(inboundAddress));
        }
      }
      int target = snap.indexOfLocal(inboundAddress);
      if (ingress != null && target > 0 && !"lo".equals(snap.name(target))) {
        // S33 exact: into the receive path of the interface with that address (IngressPath);
        // it passes neither the output chain nor the MTU of any link (S53)
        verdicts.flushAll();
        int e = ingress.send(out.buffer(), len, target, snap.name(target), mark);
        if (e == Errors.ENOBUFS) {
          ledger.drop(DropReason.NO_BUFFER);
          return;
        }
        if (e != 0) {
          throw new DivertException(
              "injecting inbound on " + snap.name(target) + " failed: " + Errors.name(e), e, null);
        }
        ledger.injected(len);
        return;
      }
      if (snap.isLocal(dst)) {
        // An address of lo, or no injection path (EXACT_INBOUND_INTERFACE not declared): a raw
        // send to a local address loops through lo into PREROUTING and the local stack. The chain
        // bits say "output chain in progress" so the output rules let it pass; the input rules,
        // whose chain bits differ, see it arrive on lo as fresh (their line A replaces the state;
        // the bits are the backend's, inside its mask).
        mark |= marks.chainBits(Chain.OUTPUT);
      }
    }
    verdicts.flushAll();
    send(len, dst, mark, true);
    ledger.injected(len);
  }

  /**
   * Writes a held packet back through the raw socket, resuming after the rule that diverted it
   * (S44): fragments of an S19 cut, and changed packets too long for a verdict.
   *
   * @param len the loaded packet's length
   * @param mark the mark to send it with
   */
  void reinject(int len, int mark) throws DivertException {
    if (out.isIpv6()) {
      SendFixups.apply(out.view6(len));
      verdicts.flushAll();
      send6(len, 0, mark, true);
      ledger.reinjected(len);
      return;
    }
    Ipv4View v = SendFixups.apply(out.view(len), ids);
    verdicts.flushAll();
    send(len, v.destination(), mark, false);
    ledger.reinjected(len);
  }

  /**
   * S27/S28 (per-fragment: nothing above the egress MTU) and S29 (DF above the MTU) for a packet
   * written back as a verdict.
   *
   * @param len the loaded packet's length
   * @param outIndex its egress interface, 0 if unknown
   * @param strict whether per-fragment mode refuses it above the MTU
   */
  void checkEgressMtu(int len, int outIndex, boolean strict) throws DivertException {
    if (outIndex <= 0) {
      return;
    }
    InterfaceSnapshot snap = ifaces.knowing(outIndex);
    int mtu = snap.mtu(outIndex);
    if (mtu < 68 || len <= mtu) {
      return;
    }
    // IPv6 has no DF flag: per-fragment mode refuses as IPv4 does (S59); in always-defragment
    // mode the kernel fragments the written-back datagram again (S58)
    boolean df = !out.isIpv6() && out.view(len).dontFragment();
    if (perFragment ? strict : df) {
      throw new PacketTooLargeException(
          len, mtu, "egress interface " + snap.name(outIndex) + (perFragment ? "" : ", DF set"), 0);
    }
  }

  /**
   * Whether an IPv6 datagram written back whole on its way through the host must leave through the
   * raw socket so that it is fragmented to the egress MTU (S58, S23): in always-defragment mode,
   * above the MTU of its egress interface (forward rules know it; input rules, which run before
   * routing, look the route up for a destination that is not local). Linux's forward path would not
   * fragment it: nf_defrag_ipv6 records the largest fragment that arrived, and {@code
   * ip6_pkt_too_big} (net/ipv6/ip6_output.c) sends Packet Too Big and drops the datagram whenever
   * that size exceeds the egress MTU, as a router must (IPv6 routers never fragment).
   *
   * @param len the loaded packet's length
   * @param outIndex its egress interface, 0 if unknown
   * @param beforeRouting whether it was diverted before routing (an input rule)
   * @param mark its mark, for the route lookup
   * @return true if {@link #reinject} must send it
   */
  boolean refragmentsOnTheWay6(int len, int outIndex, boolean beforeRouting, int mark) {
    if (perFragment || !out.isIpv6() || len <= MIN_LINK_MTU6) {
      return false; // no IPv6 link has a smaller MTU
    }
    int mtu;
    if (outIndex > 0) {
      mtu = ifaces.knowing(outIndex).mtu(outIndex);
    } else if (beforeRouting && !ifaces.get().isLocal6(out.buffer(), DST6)) {
      mtu = routeMtu6(0, mark); // one route lookup, only for datagrams above 1280 bytes
    } else {
      return false;
    }
    return mtu >= Ipv6Fragmenter.MIN_MTU && len > mtu;
  }

  private void send(int len, int dst, int mark, boolean mayFragment) throws DivertException {
    int e = raw.send(out.address(), len, dst, mark);
    if (e == 0) {
      return;
    }
    if (e == Errors.EMSGSIZE) {
      // raw_send_hdrinc (net/ipv4/raw.c) refuses anything above the route's device MTU
      int mtu = routeMtu(dst, mark);
      boolean df = out.view(len).dontFragment();
      if (!perFragment && mayFragment && !df && mtu >= Fragmenter.MIN_MTU && len > mtu) {
        sendFragmented(len, dst, mark, mtu);
        return;
      }
      throw new PacketTooLargeException(
          len, mtu > 0 ? mtu : len - 1, routeDescription(dst, mark), e);
    }
    if (e == Errors.ENETUNREACH || e == Errors.EHOSTUNREACH) {
      throw new NoRouteException(Ipv4.fromInt(dst), e);
    }
    if (e == Errors.ENOBUFS) {
      ledger.drop(DropReason.NO_BUFFER);
      return;
    }
    if (Errors.isPermission(e)) {
      throw new DivertException(
          "the packet to " + Ipv4.toString(dst) + " was refused by a firewall rule", e, null);
    }
    throw new DivertException(
        "raw send to " + Ipv4.toString(dst) + " failed: " + Errors.name(e), e, null);
  }

  // ---------------------------------------------------------------- IPv6

  private void inject6(int len, Inet6Address inbound, int own) throws DivertException {
    SendFixups.apply(out.view6(len)); // S61: the kernel does not set the payload length
    ByteBuffer b = out.buffer();
    int mark = marks.injected(own, port);
    int oif = 0;
    if (inbound != null && !Ipv6Addresses.isUnspecified(inbound)) {
      InterfaceSnapshot snap = ifaces.get();
      int owner = snap.indexOf6(inbound);
      if (owner == 0) {
        snap = ifaces.knowing(Integer.MAX_VALUE);
        owner = snap.indexOf6(inbound);
        if (owner == 0) {
          throw new AddressNotAvailableException(inbound);
        }
      }
      oif = owner;
      if (ingress != null && !"lo".equals(snap.name(owner))) {
        // S33 exact, as for IPv4: into the receive path of the interface with that address
        verdicts.flushAll();
        int e = ingress.send(b, len, owner, snap.name(owner), mark);
        if (e == Errors.ENOBUFS) {
          ledger.drop(DropReason.NO_BUFFER);
          return;
        }
        if (e != 0) {
          throw new DivertException(
              "injecting inbound on " + snap.name(owner) + " failed: " + Errors.name(e), e, null);
        }
        ledger.injected(len);
        return;
      }
      if (snap.isLocal6(b, DST6)) {
        // S33 approximation as for IPv4: a send to a local address loops through lo into
        // PREROUTING; the output rules let it pass
        mark |= marks.chainBits(Chain.OUTPUT);
      }
    }
    if (!isLinkLocal(b, DST6)) {
      oif = 0; // routed by the destination
    } else if (oif == 0) {
      // S60: a link-local destination leaves through the divert address's interface; an
      // outbound address names none
      throw new NoRouteException(destination6(b), Errors.ENETUNREACH);
    }
    verdicts.flushAll();
    send6(len, oif, mark, true);
    ledger.injected(len);
  }

  /** RFC 8200 section 5: every IPv6 link has an MTU of at least 1280 bytes. */
  private static final int MIN_LINK_MTU6 = 1280;

  /** Where the destination address starts in an IPv6 header. */
  private static final int DST6 = 24;

  private static boolean isLinkLocal(ByteBuffer b, int at) {
    return (b.get(at) & 0xff) == 0xfe && (b.get(at + 1) & 0xc0) == 0x80; // fe80::/10
  }

  private static Inet6Address destination6(ByteBuffer b) {
    byte[] a = new byte[16];
    b.get(DST6, a);
    return Ipv6Addresses.fromBytes(a);
  }

  private void send6(int len, int oif, int mark, boolean mayFragment) throws DivertException {
    ByteBuffer b = out.buffer();
    int e = raw.send6(out.address(), len, b, DST6, oif, mark);
    if (e == 0) {
      return;
    }
    if (e == Errors.EMSGSIZE) {
      // rawv6_send_hdrinc (net/ipv6/raw.c) refuses anything above the route's device MTU. In
      // per-fragment mode that is the program's error (S59); in always-defragment mode the
      // backend fragments, as the host would, with a new non-zero Identification (S58)
      int mtu = routeMtu6(oif, mark);
      if (!perFragment && mayFragment && mtu >= Ipv6Fragmenter.MIN_MTU && len > mtu) {
        sendFragmented6(len, oif, mark, mtu);
        return;
      }
      throw new PacketTooLargeException(
          len, mtu > 0 ? mtu : len - 1, routeDescription6(oif, mark), e);
    }
    if (e == Errors.ENETUNREACH || e == Errors.EHOSTUNREACH) {
      throw new NoRouteException(destination6(b), e);
    }
    if (e == Errors.ENOBUFS) {
      ledger.drop(DropReason.NO_BUFFER);
      return;
    }
    String to = Ipv6View.formatAddress(b, DST6);
    if (Errors.isPermission(e)) {
      throw new DivertException("the packet to " + to + " was refused by a firewall rule", e, null);
    }
    throw new DivertException("raw send to " + to + " failed: " + Errors.name(e), e, null);
  }

  private int routeMtu6(int oif, int mark) {
    try {
      Interfaces.Route r = ifaces.route6(out.buffer(), DST6, oif, mark);
      return ifaces.knowing(r.outIndex()).mtu(r.outIndex());
    } catch (ErrnoException e) {
      return 0;
    }
  }

  private String routeDescription6(int oif, int mark) {
    try {
      Interfaces.Route r = ifaces.route6(out.buffer(), DST6, oif, mark);
      return "egress interface " + ifaces.knowing(r.outIndex()).name(r.outIndex());
    } catch (ErrnoException e) {
      return "route to " + Ipv6View.formatAddress(out.buffer(), DST6);
    }
  }

  /** S29: ALWAYS_DEFRAGMENT injects datagrams above the MTU as fragments (DF clear). */
  private void sendFragmented(int len, int dst, int mark, int mtu) throws DivertException {
    fragmentDst = dst;
    fragmentMark = mark;
    ByteBuffer b = out.buffer();
    b.limit(len).position(0);
    try {
      fragmenter.fragment(b, mtu, fragmentSink);
    } finally {
      b.clear();
    }
  }

  private void sendFragmented6(int len, int oif, int mark, int mtu) throws DivertException {
    fragmentOif = oif;
    fragmentMark = mark;
    ByteBuffer b = out.buffer();
    b.limit(len).position(0);
    try {
      fragmenter6.fragment(b, mtu, OutboundSplitter.nextId6(), fragmentSink6);
    } finally {
      b.clear();
    }
  }

  private void sendFragment6(ByteBuffer f) throws DivertException {
    int e =
        raw.send6(
            Native.address(f) + f.position(),
            f.remaining(),
            f,
            f.position() + DST6,
            fragmentOif,
            fragmentMark);
    if (e != 0 && e != Errors.ENOBUFS) {
      throw new DivertException(
          "sending an IPv6 fragment to "
              + Ipv6View.formatAddress(f, f.position() + DST6)
              + " failed: "
              + Errors.name(e),
          e,
          null);
    }
  }

  private void sendFragment(ByteBuffer f) throws DivertException {
    int e = raw.send(Native.address(f) + f.position(), f.remaining(), fragmentDst, fragmentMark);
    if (e != 0 && e != Errors.ENOBUFS) {
      throw new DivertException(
          "sending a fragment to " + Ipv4.toString(fragmentDst) + " failed: " + Errors.name(e),
          e,
          null);
    }
  }

  private int routeMtu(int dst, int mark) {
    try {
      Interfaces.Route r = ifaces.route(dst, mark);
      return ifaces.knowing(r.outIndex()).mtu(r.outIndex());
    } catch (ErrnoException e) {
      return 0;
    }
  }

  private String routeDescription(int dst, int mark) {
    try {
      Interfaces.Route r = ifaces.route(dst, mark);
      return "egress interface " + ifaces.knowing(r.outIndex()).name(r.outIndex());
    } catch (ErrnoException e) {
      return "route to " + Ipv4.toString(dst);
    }
  }
}
