package org.divert4j.rawsocket;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.divert4j.HostOptions;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Native;
import org.divert4j.linux.testbed.UnprivilegedJava;
import org.divert4j.rawsocket.internal.NfqChannel;
import org.divert4j.rawsocket.internal.NfqCodec;

/**
 * Run by {@link UnprivilegedAgainstRunningHostTest} in a child JVM as a real unprivileged user, in
 * the namespace of a running root host: tries to take over the host's NFQUEUE queue, to read
 * packets another way, and to change or remove its rules, through divert4j and around it. Prints
 * one line per attempt as {@link UnprivilegedJava#report} does; a system call refused prints {@code
 * errno <n>}.
 */
public final class IntruderChild {
  private IntruderChild() {}

  public static void main(String[] args) {
    int queue = Integer.parseInt(args[0]);
    op("open", () -> new RawSocketProvider().open(HostOptions.defaults()));
    op(
        "nfqueue-bind",
        () -> {
          try (NfqChannel ch = NfqChannel.open(queue, 8, 1 << 16)) {
            ch.configure(NfqCodec.NFQNL_CFG_CMD_BIND, -1, -1, 0, 0);
            return "bound queue " + queue;
          }
        });
    op(
        "packet-socket",
        () -> {
          int fd = Native.socket(Native.AF_PACKET, Native.SOCK_RAW, Native.ETH_P_ALL, "AF_PACKET");
          Native.close(fd);
          return "opened";
        });
    op("rules-list", () -> KernelRules.list(null));
    op("rules-remove", () -> KernelRules.remove(null, 1, true));
    op("rules-cleanup", () -> KernelRules.cleanup(null));
    op("iptables-flush-raw", () -> exec("iptables-nft", "-t", "raw", "-F"));
    op("iptables-flush-mangle", () -> exec("iptables-nft", "-t", "mangle", "-F"));
    System.out.flush();
  }

  private static String exec(String... command) throws Exception {
    Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes()).strip();
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("timed out");
    }
    if (p.exitValue() != 0) {
      throw new IllegalStateException("exit " + p.exitValue() + ": " + out);
    }
    return "exit 0";
  }

  private static void op(String name, UnprivilegedJava.Operation c) {
    UnprivilegedJava.report(
        name,
        () -> {
          try {
            return c.call();
          } catch (ErrnoException e) {
            throw new IllegalStateException("errno " + e.errno() + ": " + e.getMessage(), e);
          }
        });
  }
}
