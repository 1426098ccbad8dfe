package org.divert4j.rawsocket.internal;

import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import org.divert4j.DivertException;
import org.divert4j.linux.NetnsThread;

/**
 * {@code net.netfilter.nf_conntrack_acct} of a host's namespace around its connbytes rules (S68).
 * Adding a connbytes match forces it on when it is off ({@code connbytes_mt_check} in
 * net/netfilter/xt_connbytes.c calls {@code nf_ct_set_acct(net, true)}), and nothing in the kernel
 * sets it back. A host reads it before its first rule with {@code flow.Packets}; if it was off, the
 * host sets it off again when it closes and no connbytes rule is left in the namespace (divert4j's
 * or another's, any table, either family). A host that crashes leaves it on; so does one that found
 * it off while conntrack was not loaded yet (the file absent), since then nothing says what it
 * would have been. Stateless; the sysctl is per namespace, so it is read and written on the
 * namespace's thread.
 *
 * <p>A static rule ({@code divert rules add}) outlives the process that adds it, so what it found
 * is kept in the namespace's firewall instead, like the reassembly limits ({@link
 * ReassemblyLimits}): a marker line {@code divert4j:acct:0:0} in divert4j's defragmentation chain,
 * added when a static rule with {@code flow.Packets} finds the sysctl 0 (owned by no process, so no
 * dead-owner cleanup removes it). Whoever removes a static rule, and {@code divert rules cleanup},
 * writes 0 back and removes the marker once no connbytes rule is left in the namespace; so does a
 * closing host whose rule was the last.
 */
final class ConntrackAcct {
  static final String FILE = "/proc/sys/net/netfilter/nf_conntrack_acct";

  private static final String MARKER_HOST = "acct";

  private ConntrackAcct() {}

  /**
   * @param l a line of the defragmentation chain
   * @return true if it is the marker saying nf_conntrack_acct was 0 before a static rule
   */
  static boolean isMarker(RuleLine l) {
    String[] o = RuleOwners.owner(l.comment());
    return o != null && o[1].equals(MARKER_HOST);
  }

  private static boolean hasMarker(RuleState s) {
    for (RuleLine l : s.defrag()) {
      if (isMarker(l)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Before a static rule with {@code flow.Packets} is stored (rule lock held): adds the marker if
   * the sysctl is 0 and no marker is there yet.
   *
   * @param s the namespace's state, changed in place
   * @param ns the namespace's thread
   */
  static void note(RuleState s, NetnsThread ns) throws DivertException {
    if (!hasMarker(s) && "0".equals(read(ns))) {
      s.defrag().add(RuleSet.markerLine(RuleText.comment(MARKER_HOST, 0, "0")));
    }
  }

  /**
   * After the namespace's rules were stored (rule lock held): if the marker is there and no
   * connbytes rule is left, sets the sysctl to 0 and removes the marker from {@code s} (the caller
   * stores it again).
   *
   * @param s the namespace's state, changed in place
   * @param ns the namespace's thread
   * @param anyConnbytes whether any connbytes rule is in the namespace ({@link
   *     RuleSet#anyConnbytes})
   * @return a description of what was restored, or null if nothing was
   */
  static String settle(RuleState s, NetnsThread ns, boolean anyConnbytes) throws DivertException {
    if (anyConnbytes || !hasMarker(s)) {
      return null;
    }
    off(ns);
    s.defrag().removeIf(ConntrackAcct::isMarker);
    return "net.netfilter.nf_conntrack_acct=0 (no connbytes rule needs it any more)";
  }

  /**
   * After a change was stored (rule lock held): {@link #settle} on a fresh state (the one just
   * stored carries the changes it was stored with), stored again if the marker went. Whoever
   * removes rules calls it: {@code divert rules remove} and {@code cleanup}, and a closing host, so
   * a host's rule that outlived the static one does not leave the sysctl on.
   *
   * @param rules the namespace's rules
   * @param ns the namespace's thread
   * @param stored the state just stored
   * @param bound the bound queues, as for {@link RuleSet#store}
   * @return what was restored, or null
   * @throws IOException if iptables fails
   * @throws DivertException if the sysctl cannot be written
   */
  static String settleStored(RuleSet rules, NetnsThread ns, RuleState stored, Set<Integer> bound)
      throws IOException, DivertException {
    if (!hasMarker(stored)) {
      return null;
    }
    RuleState s = rules.load();
    String restored = settle(s, ns, rules.anyConnbytes());
    if (restored != null) {
      rules.store(s, bound);
    }
    return restored;
  }

  /**
   * @return "1" or "0" as the file says, or "" if it does not exist (conntrack not loaded)
   */
  static String read(NetnsThread ns) throws DivertException {
    return ns.call(
        () -> {
          if (!new File(FILE).exists()) {
            return "";
          }
          // one read(2) from offset 0: a sysctl answers a later offset with end of file
          try (InputStream in = new FileInputStream(FILE)) {
            byte[] b = new byte[16];
            int n = in.read(b);
            return new String(b, 0, Math.max(n, 0), StandardCharsets.US_ASCII).trim();
          }
        });
  }

  /** Sets it off again (on the namespace's thread). */
  static void off(NetnsThread ns) throws DivertException {
    ns.call(
        () -> {
          try (OutputStream out = new FileOutputStream(FILE)) {
            out.write("0\n".getBytes(StandardCharsets.US_ASCII));
          } catch (IOException e) {
            throw new IOException("cannot write 0 to " + FILE + ": " + e.getMessage(), e);
          }
          return null;
        });
  }
}
