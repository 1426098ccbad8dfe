package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.Chain;
import org.divert4j.DivertException;
import org.divert4j.FragmentMode;
import org.divert4j.FragmentModeUnavailableException;
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
    int local = localAddress();
    if (local == 0) {
      return; // nothing is up: nothing to test with, and no traffic to divert yet
    }
    String comment = RuleText.comment(host, RuleOwners.PID, "probe");
    String a = Ipv4.toString(local) + "/32";
    String rule =
        "-p " + PROTOCOL + " -s " + a + " -d " + a + " -f -m comment --comment \"" + comment + "\"";
    long seen;
    try {
      rules.locked(
          () -> {
            RuleState s = rules.load();
            s.extra("raw", "-I OUTPUT 1 " + rule);
            rules.store(s, proc.bound(s));
            return null;
          });
      ns.call(
          () -> {
            sendFragments(local, rules.marks().chainBits(Chain.OUTPUT));
            return null;
          });
      seen =
          rules.locked(
              () -> {
                RuleState s = rules.load();
                long n = -1;
                for (RuleLine l : s.builtinLines()) {
                  if (comment.equals(l.comment())) {
                    n = Math.max(n, 0) + l.packets();
                    s.deleteBuiltin(l);
                  }
                }
                rules.store(s, proc.bound(s));
                return n;
              });
    } catch (IOException e) {
      throw new DivertException("the fragment probe failed: " + e.getMessage(), 0, e);
    }
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

  /** Sends the first and second fragment of a tiny datagram to {@code dst} (namespace thread). */
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
        probe.send(addr, len, dst, mark);
      }
    } finally {
      probe.close();
    }
  }
}
