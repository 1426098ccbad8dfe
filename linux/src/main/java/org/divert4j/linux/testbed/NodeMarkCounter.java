package org.divert4j.linux.testbed;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicInteger;
import org.divert4j.linux.Iptables;
import org.divert4j.testbed.MarkCounter;

/**
 * Counts a node's outgoing UDP datagrams by mark: one counting line per mark (no target) appended
 * to the node's {@code mangle POSTROUTING}, after the jump divert4j's kernel backend inserts first,
 * so it sees each packet's mark as the backend's output rules leave it; the counts are the lines'
 * packet counters ({@code iptables-save -c}). The lines carry the comment {@code
 * d4j-testbed:marks:<n>} and are deleted on close. Lines of the node's namespace only, which the
 * test bed created. Thread-safe.
 */
final class NodeMarkCounter implements MarkCounter {
  private static final AtomicInteger IDS = new AtomicInteger();

  private final Iptables iptables;
  private final Netns netns;
  private final String[] specs;
  private final int[] marks;
  private final Runnable onClose;
  private boolean closed;

  private NodeMarkCounter(
      Iptables iptables, Netns netns, String[] specs, int[] marks, Runnable onClose) {
    this.iptables = iptables;
    this.netns = netns;
    this.specs = specs;
    this.marks = marks;
    this.onClose = onClose;
  }

  static NodeMarkCounter open(Netns netns, int port, int significant, int[] marks, Runnable onClose)
      throws IOException {
    Iptables ipt =
        Iptables.detect(null).orElseThrow(() -> new IOException("iptables is not installed"));
    String comment = "d4j-testbed:marks:" + IDS.incrementAndGet();
    String[] specs = new String[marks.length];
    StringBuilder add = new StringBuilder("*mangle\n");
    for (int i = 0; i < marks.length; i++) {
      specs[i] =
          "-p udp -m udp --dport "
              + port
              + " -m mark --mark "
              + hex(marks[i] & significant)
              + (significant == -1 ? "" : "/" + hex(significant))
              + " -m comment --comment \""
              + comment
              + "\"";
      add.append("-A POSTROUTING ").append(specs[i]).append('\n');
    }
    restore(netns, ipt, add.append("COMMIT\n").toString());
    return new NodeMarkCounter(ipt, netns, specs, marks.clone(), onClose);
  }

  /** {@link Iptables#restore} run in the node's namespace, directly or through its broker. */
  private static void restore(Netns netns, Iptables ipt, String script) throws IOException {
    org.divert4j.linux.Shell.Result r =
        netns.exec(script, org.divert4j.linux.Shell.DEFAULT_TIMEOUT, ipt.restoreCommand());
    if (!r.ok()) {
      throw new IOException(r.describe() + "\nscript:\n" + script);
    }
  }

  private static String hex(int v) {
    return "0x" + Integer.toHexString(v);
  }

  @Override
  public synchronized long count(int mark) throws IOException {
    int k = -1;
    for (int i = 0; i < marks.length; i++) {
      if (marks[i] == mark) {
        k = i;
      }
    }
    if (k < 0) {
      throw new IllegalArgumentException("not counted: " + hex(mark));
    }
    String want = normalize("-A POSTROUTING " + specs[k]);
    org.divert4j.linux.Shell.Result saved =
        netns.exec(null, org.divert4j.linux.Shell.DEFAULT_TIMEOUT, iptables.saveCommand("mangle"));
    if (!saved.ok()) {
      throw new IOException(saved.describe());
    }
    for (String line : saved.stdout().split("\n")) {
      if (line.startsWith("[") && normalize(line.substring(line.indexOf(']') + 1)).equals(want)) {
        return Long.parseLong(line.substring(1, line.indexOf(':')));
      }
    }
    throw new IOException("the counting line for " + hex(mark) + " is gone: " + want);
  }

  private static String normalize(String rule) {
    return rule.replace("\"", "").replaceAll("\\s+", " ").trim();
  }

  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    StringBuilder del = new StringBuilder("*mangle\n");
    for (String s : specs) {
      del.append("-D POSTROUTING ").append(s).append('\n');
    }
    try {
      restore(netns, iptables, del.append("COMMIT\n").toString());
    } finally {
      onClose.run();
    }
  }
}
