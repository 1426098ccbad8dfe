package org.divert4j.rawsocket.internal;

import java.io.IOException;
import org.divert4j.DivertException;
import org.divert4j.DivertRule;
import org.divert4j.linux.NetnsThread;
import org.divert4j.spi.FlowRules;

/**
 * What one host's rules with {@code flow.Packets} (S68) need from connection tracking: connbytes
 * reads conntrack's per-connection counters, and conntrack turns defragmentation on in the
 * namespace ({@code nf_ct_netns_get} from {@code connbytes_mt_check},
 * net/netfilter/xt_connbytes.c). So a PER_FRAGMENT host refuses the field (it must never see
 * reassembled datagrams, S16), and the first such rule of a host notes the namespace's {@code
 * nf_conntrack_acct}, which connbytes turns on; the host's close sets it off again when it was off
 * and no connbytes rule is left. Thread-safe.
 */
final class FlowAccounting {
  private final NetnsThread ns;
  private final RuleSet rules;
  private final boolean defragmented;
  // nf_conntrack_acct before this host's first connbytes rule: "0", "1", "" (no conntrack), null
  // while it has added none
  private volatile String acctBefore;

  /**
   * @param ns the host's namespace thread
   * @param rules the namespace's rules
   * @param defragmented whether the host was opened with ALWAYS_DEFRAGMENT
   */
  FlowAccounting(NetnsThread ns, RuleSet rules, boolean defragmented) {
    this.ns = ns;
    this.rules = rules;
    this.defragmented = defragmented;
  }

  /**
   * @param rule a rule about to be installed
   * @throws DivertException if it uses flow fields and the host is PER_FRAGMENT
   */
  void check(DivertRule rule) throws DivertException {
    FlowRules.check(
        rule,
        defragmented,
        "rawsocket",
        "connbytes needs connection tracking, which reassembles every datagram in the namespace;"
            + " a PER_FRAGMENT host cannot have that: open it with FragmentMode.ALWAYS_DEFRAGMENT");
  }

  /**
   * Records nf_conntrack_acct before the host's first connbytes rule forces it on.
   *
   * @param rule a rule about to be installed, already checked
   * @throws DivertException if the sysctl cannot be read
   */
  void note(DivertRule rule) throws DivertException {
    if (acctBefore == null && rule.filter() != null && rule.filter().usesFlow()) {
      acctBefore = ConntrackAcct.read(ns);
    }
  }

  /**
   * At the host's close, once its rules are gone: sets nf_conntrack_acct off again if it was off
   * before the host's connbytes rules and none is left in the namespace. Best effort: a failure
   * leaves it on, where other connbytes rules keep working (docs/backends.md says so).
   */
  void restore() {
    if (!"0".equals(acctBefore)) {
      return;
    }
    try {
      if (!rules.anyConnbytes()) {
        ConntrackAcct.off(ns);
      }
    } catch (IOException | RuntimeException e) {
      // left on, as above
    }
  }
}
