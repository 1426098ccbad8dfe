package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.Chain;
import org.divert4j.DivertException;
import org.divert4j.FragmentMode;
import org.divert4j.FragmentModeUnavailableException;
import org.divert4j.IpPrefix;
import org.divert4j.Ipv4;
import org.divert4j.NetInterface;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;
import org.divert4j.linux.Native;
import org.divert4j.linux.NetnsThread;
import org.divert4j.packet.Ipv4Builder;

/**
 * The check that PER_FRAGMENT diversion can work in a namespace. Our input rules sit in raw
 * PREROUTING (priority -300); nf_defrag_ipv4 (priority -400, {@code NF_IP_PRI_CONNTRACK_DEFRAG})
 * runs first whenever it has a user in the namespace (conntrack, NAT, CT/NOTRACK, socket or TPROXY
 * rules; registered per namespace on demand since Linux 4.10, {@code nf_defrag_ipv4_enable}). The
 * probe sends two fragments to a local address through a raw socket and counts, with a temporary
 * raw OUTPUT rule, whether they are still fragments after LOCAL_OUT's defrag hook: the same hook
 * pair as PREROUTING.
 */
final class FragmentProbe {
  private static final int PROTOCOL = 253; // RFC 3692 experimentation: nobody listens

  private final NetnsThread ns;
  private final Interfaces ifaces;
  private final RuleSet rules;
  private final NamespaceCounters proc;

  FragmentProbe(NetnsThread ns, Interfaces ifaces, RuleSet rules, NamespaceCounters proc) {
    this.ns = ns;
    this.ifaces = ifaces;
    this.rules = rules;
    this.proc = proc;
  }

  /**
   * Runs the probe.
   *
   * @param host the host's name (owner of the temporary rule)
   * @param nsDescription the namespace, for the message
   * @throws DivertException if defragmentation is active in the namespace, or the probe failed
   */
  void check(String host, String nsDescription) throws DivertException {
    check4(host, nsDescription);
    if (rules.ipv6()) {
      check6(host, nsDescription);
    }
  }

  /**
   * The IPv6 half: nf_defrag_ipv6 registers at the same priority (-400, {@code
   * NF_IP6_PRI_CONNTRACK_DEFRAG}) per namespace when conntrack, TPROXY or {@code -m socket} need it
   * ({@code nf_defrag_ipv6_enable}). Two fragments of one tiny datagram go from a local IPv6
   * address to itself (::1, else an interface's) through the IPv6 raw socket; a temporary ip6tables
   * raw OUTPUT rule counts packets that still carry a Fragment header ({@code -m frag}) after
   * LOCAL_OUT's defrag hook. A namespace with no local IPv6 address (IPv6 disabled, {@code
   * net.ipv6.conf.*.disable_ipv6=1}, as many hosts run) has nothing to test with and receives no
   * IPv6 (ipv6_rcv drops it on a disabled interface): the check passes, as the IPv4 half does where
   * nothing is up. Before, the probe sent to ::1 regardless, its send failed unnoticed, and such a
   * namespace was refused PER_FRAGMENT as if nf_defrag_ipv6 were active.
   */
  private void check6(String host, String nsDescription) throws DivertException {
    Local6 local = localAddress6();
    if (local == null) {
      return;
    }
    String comment = RuleText.comment(host, RuleOwners.PID, "probe");
    String a = local.address().getHostAddress().replaceFirst("%.*", "") + "/128";
    String rule = "-s " + a + " -d " + a + " -m frag -m comment --comment \"" + comment + "\"";
    long seen =
        probe(
            true,
            rule,
            comment,
            () -> sendFragments6(local, rules.marks().chainBits(Chain.OUTPUT)));
    if (seen == 0) {
      throw new FragmentModeUnavailableException(
          "PER_FRAGMENT diversion is impossible in network namespace "
              + nsDescription
              + ": IPv6 defragmentation (nf_defrag_ipv6) is active there because something"
              + " uses connection tracking or needs reassembly (conntrack, state, NAT, CT/NOTRACK,"
              + " socket or TPROXY rules in ip6tables, or an ALWAYS_DEFRAGMENT divert host), so"
              + " the input chain would only see reassembled IPv6 datagrams. Remove those users,"
              + " or open the host with FragmentMode.ALWAYS_DEFRAGMENT.",
          FragmentMode.PER_FRAGMENT,
          FragmentMode.ALWAYS_DEFRAGMENT);
    }
  }

  /** Sends a probe's fragments on the namespace's thread. */
  private interface ProbeSend {
    void send() throws DivertException;
  }

  /**
   * Inserts a temporary raw OUTPUT line, sends the probe's fragments, and reads and removes the
   * line (also when the send fails).
   *
   * @param six the IPv6 tables (ip6tables) instead of the IPv4 ones
   * @param rule the line's match, with its comment
   * @param comment the comment that finds it again
   * @param send sends the fragments
   * @return the packets the line counted: fragments still fragments after LOCAL_OUT's defrag hook
   * @throws DivertException if the rules cannot be changed, the send fails, or the line is gone
   *     when its count is read (never read as "no fragment seen": the check would pass without
   *     having looked)
   */
  private long probe(boolean six, String rule, String comment, ProbeSend send)
      throws DivertException {
    long seen;
    try {
      rules.locked(
          () -> {
            RuleState s = rules.load();
            (six ? s.six() : s).extra("raw", "-I OUTPUT 1 " + rule);
            rules.store(s, proc.bound(s));
            return null;
          });
      try {
        ns.call(
            () -> {
              send.send();
              return null;
            });
      } finally {
        seen =
            rules.locked(
                () -> {
                  RuleState s = rules.load();
                  RuleState f = six ? s.six() : s;
                  long n = -1;
                  for (RuleLine l : f.builtinLines()) {
                    if (comment.equals(l.comment())) {
                      n = Math.max(n, 0) + l.packets();
                      f.deleteBuiltin(l);
                    }
                  }
                  rules.store(s, proc.bound(s));
                  return n;
                });
      }
    } catch (IOException e) {
      throw new DivertException(
          "the " + (six ? "IPv6 " : "") + "fragment probe failed: " + e.getMessage(), 0, e);
    }
    if (seen < 0) {
      throw new DivertException(
          "the fragment probe's rule was gone when its count was read", 0, null);
    }
    return seen;
  }

  /** A local IPv6 address and the scope (interface index) a link-local one is sent with. */
  record Local6(Inet6Address address, int scope) {}

  /**
   * @return ::1, else an interface's IPv6 address that routes locally (RTN_LOCAL), or null if the
   *     namespace has none (IPv6 disabled)
   */
  private Local6 localAddress6() {
    List<Local6> candidates = new ArrayList<>();
    try {
      candidates.add(new Local6((Inet6Address) InetAddress.getByAddress(LOOPBACK6), 0));
    } catch (UnknownHostException e) {
      throw new AssertionError(e); // 16 bytes are always an address
    }
    for (NetInterface i : ifaces.get().list()) {
      for (IpPrefix p : i.addresses()) {
        if (p.address() instanceof Inet6Address a) {
          if (!a.isLinkLocalAddress()) {
            candidates.add(new Local6(a, 0));
          }
        }
      }
    }
    for (Local6 c : candidates) {
      try {
        ByteBuffer b = ByteBuffer.wrap(c.address().getAddress());
        if (ifaces.route6(b, 0, c.scope(), 0).type() == Interfaces.RTN_LOCAL) {
          return c;
        }
      } catch (ErrnoException e) {
        // no route (ENETUNREACH where IPv6 is disabled): try the next
      }
    }
    return null;
  }

  private static final byte[] LOOPBACK6 = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

  /**
   * Sends the two fragments of a 16-byte datagram of protocol 253 from the address to itself. A
   * failed send is an error, never an answer: it would read as "no fragment seen".
   */
  private static void sendFragments6(Local6 local, int mark) throws DivertException {
    RawSender probe;
    try {
      probe = RawSender.open(false);
    } catch (ErrnoException e) {
      throw Errors.generic("cannot open a raw socket for the fragment probe", e);
    }
    try {
      ByteBuffer b = Native.allocate(64);
      long addr = Native.address(b);
      byte[] a = local.address().getAddress();
      int id = 0x4000 + (int) (RuleOwners.PID & 0x3fff);
      for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 64; i++) {
          b.put(i, (byte) 0);
        }
        // byte by byte: the buffer is in native order, the header in network order
        b.put(0, (byte) 0x60); // version 6
        b.put(5, (byte) 16); // payload length: fragment header + 8 bytes
        b.put(6, (byte) 44); // next header: Fragment
        b.put(7, (byte) 64);
        b.put(8, a); // source
        b.put(24, a); // destination
        b.put(40, (byte) PROTOCOL);
        b.put(43, (byte) (k == 0 ? 1 : 8)); // offset 0 with M, then offset 8 (bytes) without
        b.put(46, (byte) (id >>> 8));
        b.put(47, (byte) id);
        int r = probe.send6(addr, 56, b, 24, local.scope(), mark);
        if (r != 0) {
          throw new DivertException(
              "the IPv6 fragment probe could not send to "
                  + local.address().getHostAddress()
                  + ": "
                  + Errors.name(r),
              r,
              null);
        }
      }
    } finally {
      probe.close();
    }
  }

  private void check4(String host, String nsDescription) throws DivertException {
    int local = localAddress();
    if (local == 0) {
      return; // nothing is up: nothing to test with, and no traffic to divert yet
    }
    String comment = RuleText.comment(host, RuleOwners.PID, "probe");
    String a = Ipv4.toString(local) + "/32";
    String rule =
        "-p " + PROTOCOL + " -s " + a + " -d " + a + " -f -m comment --comment \"" + comment + "\"";
    long seen =
        probe(
            false,
            rule,
            comment,
            () -> sendFragments(local, rules.marks().chainBits(Chain.OUTPUT)));
    if (seen == 0) {
      throw new FragmentModeUnavailableException(
          "PER_FRAGMENT diversion is impossible in network namespace "
              + nsDescription
              + ": IPv4 defragmentation (nf_defrag_ipv4) is active there because something"
              + " uses connection tracking or needs reassembly (conntrack, state, NAT, CT/NOTRACK,"
              + " socket or TPROXY rules, or an ALWAYS_DEFRAGMENT divert host), so the input"
              + " chain would only see reassembled datagrams. Remove those users, or open the host"
              + " with FragmentMode.ALWAYS_DEFRAGMENT.",
          FragmentMode.PER_FRAGMENT,
          FragmentMode.ALWAYS_DEFRAGMENT);
    }
  }

  /** The loopback address or an interface address that routes locally, 0 if none does. */
  private int localAddress() {
    List<Integer> candidates = new ArrayList<>();
    candidates.add(0x7f000001);
    for (NetInterface i : ifaces.get().list()) {
      if (i.addressBits() != 0) {
        candidates.add(i.addressBits());
      }
    }
    for (int a : candidates) {
      try {
        if (ifaces.route(a, 0).type() == Interfaces.RTN_LOCAL) {
          return a;
        }
      } catch (ErrnoException e) {
        // not routable: try the next
      }
    }
    return 0;
  }

  /**
   * Sends the first and second fragment of a tiny datagram to {@code dst} (namespace thread). A
   * failed send is an error, never an answer.
   */
  private static void sendFragments(int dst, int mark) throws DivertException {
    RawSender probe;
    try {
      probe = RawSender.open(false);
    } catch (ErrnoException e) {
      throw Errors.generic("cannot open a raw socket for the fragment probe", e);
    }
    try {
      ByteBuffer b = Native.allocate(64);
      long addr = Native.address(b);
      int id = 0x4000 + (int) (RuleOwners.PID & 0x3fff);
      for (int k = 0; k < 2; k++) {
        int len =
            Ipv4Builder.raw(PROTOCOL)
                .source(dst)
                .destination(dst)
                .identification(id)
                .moreFragments(k == 0)
                .fragmentOffset(k == 0 ? 0 : 8)
                .payload(new byte[8])
                .writeTo(b, 0);
        int r = probe.send(addr, len, dst, mark);
        if (r != 0) {
          throw new DivertException(
              "the fragment probe could not send to " + Ipv4.toString(dst) + ": " + Errors.name(r),
              r,
              null);
        }
      }
    } finally {
      probe.close();
    }
  }
}
