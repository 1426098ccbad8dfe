package org.divert4j.pcap;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.linux.testbed.VethPair;

/**
 * Records real kernel traffic for the savefile tests: two fresh network namespaces joined by a veth
 * pair, {@code tcpdump} capturing on one end while {@code ping} runs across it. Everything made is
 * removed before the method returns, also when it fails: the namespaces ({@code
 * d4jp-<pid>-<n>-cap-a/b}) and the tcpdump process.
 */
final class KernelCaptures {
  static final String A = "10.77.1.1";
  static final String B = "10.77.1.2";
  static final String A6 = "fd00:4d01::1";
  static final String B6 = "fd00:4d01::2";

  private static final AtomicInteger COUNTER = new AtomicInteger();

  private KernelCaptures() {}

  /**
   * @return why kernel captures cannot be recorded here, or null if they can
   */
  static String unavailable() {
    if (!Shell.isRoot()) {
      return "recording kernel traffic needs root (network namespaces, tcpdump)";
    }
    for (String p : List.of("ip", "nsenter", "tcpdump", "ping")) {
      if (Shell.which(p).isEmpty()) {
        return "recording kernel traffic needs the " + p + " program";
      }
    }
    return null;
  }

  /**
   * Pings from A to B across a veth with MTU 1500 and records what A's interface sees.
   *
   * @param file where tcpdump writes
   * @param anyInterface true to capture on {@code any} (Linux cooked v2) instead of the veth
   *     (Ethernet)
   * @param count echo requests
   * @param size ICMP payload size (4000 gives three fragments each way)
   * @return the file
   * @throws Exception if recording fails
   */
  static Path recordPing(Path file, boolean anyInterface, int count, int size) throws Exception {
    return recordPing(file, anyInterface, count, size, false);
  }

  /**
   * As {@link #recordPing(Path, boolean, int, int)}; with {@code both}, A and B also have IPv6
   * addresses ({@value #A6}, {@value #B6}, without duplicate address detection, neighbours resolved
   * by neighbour discovery) and A pings B over IPv6 after IPv4: one capture holds both families,
   * their fragments, ARP and neighbour discovery.
   */
  static Path recordPing(Path file, boolean anyInterface, int count, int size, boolean both)
      throws Exception {
    String prefix = "d4jp-" + ProcessHandle.current().pid() + "-" + COUNTER.incrementAndGet();
    try (Netns a = Netns.create(prefix + "-cap-a");
        Netns b = Netns.create(prefix + "-cap-b")) {
      if (both) {
        for (Netns ns : List.of(a, b)) {
          ns.sysctl("net.ipv6.conf.all.accept_dad", "0");
          ns.sysctl("net.ipv6.conf.default.accept_dad", "0");
        }
      }
      VethPair v = VethPair.create(a, "eth0", b, "eth0", 1500);
      v.a().addAddress(A + "/24");
      v.b().addAddress(B + "/24");
      if (both) {
        v.a().addAddress6(A6 + "/64");
        v.b().addAddress6(B6 + "/64");
      }
      Path err = Files.createTempFile(file.getParent(), "tcpdump", ".err");
      List<String> cmd =
          Shell.inNetns(
              a.path().toString(),
              List.of(
                  Shell.which("tcpdump").get().toString(),
                  "-i",
                  anyInterface ? "any" : "eth0",
                  "-n",
                  "-U",
                  "--immediate-mode",
                  "-Z",
                  "root",
                  "-w",
                  file.toString()));
      Process tcpdump =
          new ProcessBuilder(cmd)
              .redirectErrorStream(false)
              .redirectError(err.toFile())
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      try {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Files.readString(err, StandardCharsets.UTF_8).contains("listening on")) {
          if (!tcpdump.isAlive() || System.nanoTime() > deadline) {
            throw new IOException("tcpdump did not start: " + Files.readString(err));
          }
          Thread.sleep(20);
        }
        List<String> ping = new ArrayList<>();
        ping.addAll(
            List.of(
                Shell.which("ping").get().toString(),
                "-n",
                "-q",
                "-c",
                Integer.toString(count),
                "-i",
                "0.2",
                "-M",
                "dont",
                "-s",
                Integer.toString(size),
                B));
        Shell.Result r = a.exec(null, java.time.Duration.ofSeconds(30), ping);
        if (!r.ok()) {
          throw new IOException("ping failed: " + r.describe());
        }
        if (both) {
          ping.set(ping.size() - 1, B6);
          ping.add(1, "-6");
          r = a.exec(null, java.time.Duration.ofSeconds(30), ping);
          if (!r.ok()) {
            throw new IOException("ping -6 failed: " + r.describe());
          }
        }
        Thread.sleep(300);
      } finally {
        tcpdump.destroy(); // SIGTERM: tcpdump closes the file cleanly
        if (!tcpdump.waitFor(5, TimeUnit.SECONDS)) {
          tcpdump.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
        Files.deleteIfExists(err);
      }
    }
    return file;
  }
}
