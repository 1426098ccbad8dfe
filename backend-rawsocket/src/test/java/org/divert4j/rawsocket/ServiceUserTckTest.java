package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.NamespaceBroker;
import org.divert4j.linux.testbed.NamespaceBrokerClient;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.linux.testbed.UnprivilegedJava;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The kernel TCK as a service user (issue 16): the TCK's JVM runs as {@code nobody} with only
 * CAP_NET_ADMIN and CAP_NET_RAW (read back from {@code /proc/PID/status}), inside a namespace made
 * for it, and the kernel backend under test works in that namespace as a service does, never
 * entering another. Only the test bed's network is built by root: a {@link NamespaceBroker} in this
 * JVM makes the peers' namespaces and the veths into the TCK's namespace, and the sockets the peers
 * use. The backend must be compatible there, and every namespace must be gone afterwards.
 *
 * <p>The whole TCK takes minutes, so this runs only when asked: {@code -Ddivert4j.serviceTck=all}
 * for every rule, or a list of rules ({@code -Ddivert4j.serviceTck=S1,S3}); {@code scripts/test.sh}
 * asks for {@code all} when run as root (see the report in docs/deploy.md).
 */
class ServiceUserTckTest {
  /** The system property that selects the rules, {@code all} for the whole TCK. */
  static final String RULES = "divert4j.serviceTck";

  /** How long the TCK's JVM may run (the whole kernel TCK takes about four minutes). */
  private static final long WHOLE_RUN_MINUTES = 20;

  // CAP_NET_ADMIN is bit 12, CAP_NET_RAW bit 13 (include/uapi/linux/capability.h)
  private static final long TWO_CAPS = 1L << 12 | 1L << 13;

  @BeforeEach
  void root() {
    Root.assumeKernel();
    assumeTrue(UnprivilegedJava.available(), UnprivilegedJava.unavailableReason());
    String rules = System.getProperty(RULES, "");
    assumeTrue(
        !rules.isBlank(),
        "the kernel TCK as a service user takes minutes: run with -D" + RULES + "=all or =S1,S3");
  }

  private static String status(long pid, String field) throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith(field + ":")) {
        return line.substring(field.length() + 1).strip();
      }
    }
    throw new AssertionError("no " + field + " in /proc/" + pid + "/status");
  }

  private static List<String> namespacesOf(long pid) throws Exception {
    List<String> mine = new ArrayList<>();
    for (String n : Netns.list()) {
      if (n.startsWith(Netns.PREFIX + pid + "-")) {
        mine.add(n);
      }
    }
    return mine;
  }

  @Test
  void theKernelBackendPassesTheTckWithOnlyNetAdminAndNetRaw() throws Exception {
    String rules = System.getProperty(RULES);
    long self = ProcessHandle.current().pid();
    int nobody = Integer.parseInt(Shell.check("id", "-u", UnprivilegedJava.USER).strip());
    List<String> out = new ArrayList<>();
    int exit;
    try (UnprivilegedJava java = UnprivilegedJava.prepare(System.getProperty("java.class.path"));
        Netns tckNs = Netns.create(Netns.uniqueName("tck"))) {
      Path socket = java.directory().resolve("broker.sock");
      try (NamespaceBroker broker =
          NamespaceBroker.start(socket, tckNs.path().toString(), nobody)) {
        List<String> args = new ArrayList<>();
        if (!rules.equals("all")) {
          args.addAll(List.of("--rules", rules));
        }
        args.add("rawsocket");
        List<String> cmd =
            java.serviceCommand(
                tckNs.path().toString(),
                List.of("net_admin", "net_raw"),
                List.of(
                    "-D" + NamespaceBrokerClient.PROPERTY + "=" + socket,
                    // TCP channels on the peers' sockets (BrokeredChannels)
                    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED"),
                "org.divert4j.tck.Tck",
                args.toArray(new String[0]));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        // a TCK that hangs ends the test instead of the build: the whole TCK takes minutes
        Thread watchdog =
            new Thread(
                () -> {
                  try {
                    if (!p.waitFor(WHOLE_RUN_MINUTES, TimeUnit.MINUTES)) {
                      System.out.println("tck: no end after " + WHOLE_RUN_MINUTES + " min: killed");
                      p.destroyForcibly();
                    }
                  } catch (InterruptedException e) {
                    p.destroyForcibly();
                  }
                },
                "d4j-service-tck-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        try {
          BufferedReader r =
              new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
          String first = r.readLine(); // the TCK's first line: it runs, as whom is read below
          long pid = p.pid(); // nsenter and setpriv exec: the pid is the JVM's
          assertTrue(first != null, "the TCK's JVM printed nothing");
          out.add(first);
          System.out.println("tck: " + first);
          String uid = status(pid, "Uid").split("\\s+")[1];
          assertEquals(Integer.toString(nobody), uid, "the TCK runs as " + UnprivilegedJava.USER);
          assertEquals(TWO_CAPS, Long.parseUnsignedLong(status(pid, "CapEff"), 16), "effective");
          assertEquals(TWO_CAPS, Long.parseUnsignedLong(status(pid, "CapPrm"), 16), "permitted");
          assertEquals(TWO_CAPS, Long.parseUnsignedLong(status(pid, "CapBnd"), 16), "bounding");
          assertEquals(
              Files.getAttribute(tckNs.path(), "unix:ino"),
              Files.getAttribute(Path.of("/proc/" + pid + "/ns/net"), "unix:ino"),
              "the TCK's JVM runs in the namespace made for it");
          for (String line; (line = r.readLine()) != null; ) {
            out.add(line);
            System.out.println("tck: " + line);
          }
          assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the TCK's JVM ends");
          exit = p.exitValue();
        } finally {
          p.destroyForcibly();
        }
      }
      assertEquals(
          List.of(tckNs.name()),
          namespacesOf(self),
          "the broker removed every namespace it made; only the TCK's own is left");
      String links = tckNs.ip("-o", "link", "show");
      assertEquals(1, links.strip().split("\n").length, "only lo is left in the TCK's namespace");
    }
    assertEquals(List.of(), namespacesOf(self), "no namespace of this test is left");
    String report = String.join("\n", out);
    assertFalse(report.contains("NOT VERIFIED"), report);
    assertTrue(report.contains("COMPATIBLE: backend 'rawsocket'"), "compatible:\n" + report);
    assertEquals(0, exit, "the TCK's exit status");
  }
}
