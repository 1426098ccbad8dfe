package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.divert4j.Chain;
import org.divert4j.DivertRule;
import org.divert4j.NoListenerPolicy;
import org.divert4j.linux.Capabilities;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.rawsocket.KernelRules;
import org.divert4j.rawsocket.RawSocketProvider;
import org.divert4j.spi.Availability;
import org.junit.jupiter.api.Test;

/**
 * {@code divert rules}: parsing, help, output format and errors everywhere; the real thing (rules
 * added, listed, removed and cleaned up in a namespace the test creates) only as root.
 */
class RulesCommandTest {
  private static final Pattern ADDED =
      Pattern.compile("added rule (\\d+): (.*) \\(static, no-listener (drop|pass-through)\\)");

  /** Skips, with the reason, where the kernel backend cannot run. */
  private static void assumeKernel() {
    boolean root = Shell.isRoot();
    if (!root) {
      System.out.println("divert rules kernel tests: needs root (CAP_NET_ADMIN, CAP_NET_RAW)");
    }
    assumeTrue(root, "needs root (CAP_NET_ADMIN, CAP_NET_RAW): skipped");
    Availability a = new RawSocketProvider().availability();
    assumeTrue(a.available(), () -> "rawsocket unavailable: " + a.reason());
  }

  @Test
  void badInputIsAUsageError() {
    for (String[] args :
        List.of(
            new String[] {"rules"},
            new String[] {"rules", "flush"},
            new String[] {"rules", "add"},
            new String[] {"rules", "add", "input icmpx -j DIVERT 1"},
            new String[] {"rules", "add", "input icmp"},
            new String[] {"rules", "add", "input icmp", "--port", "0"},
            new String[] {"rules", "add", "input icmp", "--port", "70000"},
            new String[] {"rules", "add", "input icmp port 5", "--port", "6"},
            new String[] {"rules", "add", "input icmp port 5", "--no-listener", "maybe"},
            new String[] {"rules", "remove"},
            new String[] {"rules", "remove", "input icmpx port 5"},
            new String[] {"rules", "remove", "-3"},
            new String[] {"rules", "list", "--bogus"})) {
      Cli.Result r = Cli.run(args);
      assertEquals(ExitCodes.USAGE, r.status(), () -> String.join(" ", args) + "\n" + r);
      assertEquals(1, r.errLines().size(), r::toString);
      assertEquals("", r.out(), r::toString);
    }
    assertTrue(Cli.run("rules", "add", "input icmp").err().contains("names no divert port"));
    assertTrue(
        Cli.run("rules", "add", "input icmp", "--port", "0")
            .err()
            .contains("a divert port must be a number from 1 to 65535"));
    assertTrue(
        Cli.run("rules", "add", "input icmp port 5", "--no-listener", "maybe")
            .err()
            .contains("use drop or pass-through"));
  }

  @Test
  void helpDescribesEachSubcommand() {
    Cli.Result r = Cli.run("rules", "--help");
    assertEquals(ExitCodes.OK, r.status());
    for (String c : List.of("list", "add", "remove", "cleanup")) {
      assertTrue(r.out().contains("\n  " + c + " "), c + "\n" + r);
    }
    for (String c : List.of("list", "add", "remove", "cleanup")) {
      Cli.Result h = Cli.run("rules", c, "--help");
      assertEquals(ExitCodes.OK, h.status(), h::toString);
      assertTrue(h.out().contains("--netns"), h::toString);
    }
    assertTrue(Cli.run("rules", "add", "--help").out().contains("--no-listener"));
    assertTrue(Cli.run("rules", "remove", "--help").out().contains("--force"));
    assertTrue(Cli.run("rules", "cleanup", "--help").out().contains("--dry-run"));
  }

  @Test
  void theTableHasOneWordPerColumnButTheLast() {
    KernelRules.Entry st =
        new KernelRules.Entry(
            3,
            Chain.INPUT,
            "static",
            0,
            KernelRules.OwnerState.STATIC,
            "-p icmp",
            Optional.of(DivertRule.parse("input -p icmp -j DIVERT 1234")),
            1234,
            NoListenerPolicy.DROP,
            1,
            17,
            true);
    KernelRules.Entry dead =
        new KernelRules.Entry(
            12,
            Chain.OUTPUT,
            "j4242-1",
            98765,
            KernelRules.OwnerState.DEAD,
            "-p udp -m conntrack --ctstate NEW",
            Optional.empty(),
            4445,
            NoListenerPolicy.PASS_THROUGH,
            4,
            0,
            false);
    List<String> t = RulesCommand.table(List.of(st, dead));
    assertEquals(
        List.of(
            "ID  CHAIN   PORT  NO-LISTENER   OWNER    PID    STATE   BOUND  PACKETS  RULE",
            "3   input   1234  drop          static   -      static  yes    17       input -p icmp"
                + " -j DIVERT 1234",
            "12  output  4445  pass-through  j4242-1  98765  dead    no     0        output -p udp"
                + " -m conntrack --ctstate NEW -j DIVERT 4445"),
        t);
    assertEquals(
        "rule 3: input -p icmp -j DIVERT 1234 (static, no-listener drop)",
        RulesCommand.describe(st));
    assertEquals(
        "rule 12: output -p udp -m conntrack --ctstate NEW -j DIVERT 4445 (host j4242-1, pid"
            + " 98765, dead, no-listener pass-through)",
        RulesCommand.describe(dead));
  }

  /**
   * Without CAP_NET_ADMIN and CAP_NET_RAW every subcommand fails with one line naming them, exit 3,
   * before touching anything. As root the capabilities are dropped from the thread that runs the
   * command (they are per thread on Linux; the check reads the calling thread's).
   */
  @Test
  void withoutPrivilegesEverySubcommandNamesTheCapabilities() throws Exception {
    String nowhere = Netns.uniqueName("never-created");
    for (String[] args :
        List.of(
            new String[] {"rules", "list", "--netns", nowhere},
            new String[] {"rules", "list", "--all", "--netns", nowhere},
            new String[] {"rules", "add", "input -p icmp -j DIVERT 1234", "--netns", nowhere},
            new String[] {"rules", "remove", "3", "--netns", nowhere},
            new String[] {"rules", "cleanup", "--dry-run", "--netns", nowhere})) {
      Cli.Result r = Shell.isRoot() ? unprivileged(args) : Cli.run(args);
      assertEquals(ExitCodes.UNAVAILABLE, r.status(), r::toString);
      assertEquals(1, r.errLines().size(), r::toString);
      assertEquals("", r.out(), r::toString);
      assertTrue(r.err().startsWith("divert rules " + args[1] + ": "), r::toString);
      if (!r.err().contains("JNR-FFI") && !r.err().contains("needs Linux")) {
        assertTrue(
            r.err()
                .contains(
                    "permission denied: manage the rawsocket backend's divert rules (iptables)"
                        + " needs CAP_NET_ADMIN and CAP_NET_RAW; run it as root"),
            r::toString);
      }
    }
  }

  private static Cli.Result unprivileged(String... args) throws Exception {
    AtomicReference<Object> result = new AtomicReference<>();
    Thread t =
        new Thread(
            () -> {
              try {
                Capabilities.dropEffective(Capabilities.CAP_NET_ADMIN, Capabilities.CAP_NET_RAW);
                result.set(Cli.run(args));
              } catch (Throwable e) {
                result.set(e);
              }
            },
            "unprivileged-cli");
    t.start();
    t.join();
    // As root, dropping capabilities from one thread always works (capset on the calling
    // thread): if it did not, the test could not show what it claims, so that is a failure.
    if (!(result.get() instanceof Cli.Result r)) {
      throw new AssertionError("cannot drop capabilities: " + result.get());
    }
    return r;
  }

  @Test
  void aMissingNamespaceIsOneLine() {
    assumeKernel();
    String nowhere = Netns.uniqueName("never-created");
    Cli.Result r = Cli.run("rules", "list", "--netns", nowhere);
    assertEquals(ExitCodes.FAILURE, r.status(), r::toString);
    assertEquals(
        "divert rules list: network namespace '"
            + nowhere
            + "' does not exist (no /var/run/netns/"
            + nowhere
            + ")",
        r.err().trim());
  }

  @Test
  void addListRemoveAndCleanUpInANamespace() throws Exception {
    assumeKernel();
    try (Netns ns = Netns.create(Netns.uniqueName("cli"))) {
      String n = ns.name();
      Cli.Result r = Cli.run("rules", "list", "--netns", n);
      assertEquals(ExitCodes.OK, r.status(), r::toString);
      assertEquals("", r.out());
      assertEquals("no divert4j rules in network namespace " + n + "\n", r.err());

      r = Cli.run("rules", "add", "input icmp", "--port", "1234", "--netns", n);
      assertEquals(ExitCodes.OK, r.status(), r::toString);
      assertEquals(1, r.outLines().size(), r::toString);
      Matcher m = ADDED.matcher(r.outLines().get(0));
      assertTrue(m.matches(), r::toString);
      int icmp = Integer.parseInt(m.group(1));
      assertEquals("input -p icmp -j DIVERT 1234", m.group(2));
      assertEquals("drop", m.group(3));

      r =
          Cli.run(
              "rules",
              "add",
              "output -p udp --dport 53 -j DIVERT 99",
              "--no-listener",
              "pass-through",
              "--netns",
              n);
      m = ADDED.matcher(r.outLines().get(0));
      assertTrue(m.matches(), r::toString);
      int udp = Integer.parseInt(m.group(1));
      assertEquals("pass-through", m.group(3));

      r = Cli.run("rules", "list", "--netns", n);
      assertEquals(ExitCodes.OK, r.status(), r::toString);
      assertEquals(3, r.outLines().size(), r::toString);
      assertTrue(r.outLines().get(0).startsWith("ID  CHAIN "), r::toString);
      assertEquals(
          List.of(
              Integer.toString(icmp),
              "input",
              "1234",
              "drop",
              "static",
              "-",
              "static",
              "no",
              "0",
              "input",
              "-p",
              "icmp",
              "-j",
              "DIVERT",
              "1234"),
          List.of(r.outLines().get(1).split("\\s+")));
      assertTrue(
          r.outLines().get(2).endsWith("output -p udp --dport 53 -j DIVERT 99"), r::toString);

      // a foreign NFQUEUE rule shows up with --all only
      ns.execChecked(
          "iptables-nft", "-t", "mangle", "-A", "FORWARD", "-j", "NFQUEUE", "--queue-num", "9");
      assertTrue(Cli.run("rules", "list", "--netns", n).out().indexOf("queue-num 9") < 0);
      r = Cli.run("rules", "list", "--all", "--netns", n);
      assertTrue(r.out().contains("NFQUEUE rules not installed by divert4j"), r::toString);
      assertTrue(r.out().contains("  mangle FORWARD -j NFQUEUE --queue-num 9"), r::toString);

      r = Cli.run("rules", "remove", "output udp dport 53 port 99", "--netns", n);
      assertEquals(ExitCodes.OK, r.status(), r::toString);
      assertEquals(
          List.of(
              "removed rule "
                  + udp
                  + ": output -p udp --dport 53 -j DIVERT 99 (static, no-listener pass-through)"),
          r.outLines());

      r = Cli.run("rules", "remove", "77", "--netns", n);
      assertEquals(ExitCodes.FAILURE, r.status(), r::toString);
      assertEquals(
          "divert rules remove: no divert4j rule with id 77 in network namespace " + n + "\n",
          r.err());
      r = Cli.run("rules", "remove", "output udp port 99", "--netns", n);
      assertEquals(ExitCodes.FAILURE, r.status(), r::toString);
      assertEquals(1, r.errLines().size(), r::toString);

      r = Cli.run("rules", "cleanup", "--netns", n);
      assertEquals(ExitCodes.OK, r.status(), r::toString);
      assertEquals("", r.out());
      assertEquals("nothing to clean up in network namespace " + n + "\n", r.err());

      deadOwnerIsCleanedUp(n, icmp);

      r = Cli.run("rules", "remove", Integer.toString(icmp), "--netns", n);
      assertEquals(ExitCodes.OK, r.status(), r::toString);
      assertTrue(r.out().startsWith("removed rule " + icmp + ": input -p icmp"), r::toString);
      assertEquals("", Cli.run("rules", "list", "--netns", n).out());
    }
  }

  /** A host in a child JVM, killed with SIGKILL: its rule is listed dead and cleaned up. */
  private static void deadOwnerIsCleanedUp(String n, int staticId) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process child =
        new ProcessBuilder(
                java,
                "--enable-native-access=ALL-UNNAMED", // jffi: no warning on JDK 24+
                "-cp",
                System.getProperty("java.class.path"),
                HostChild.class.getName(),
                n)
            .redirectErrorStream(true)
            .start();
    String host = null;
    try (BufferedReader in =
        new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = in.readLine()) != null; ) {
        if (line.startsWith("READY ")) {
          host = line.substring(6);
          break;
        }
        System.out.println("child: " + line);
      }
      assertTrue(host != null, "the child opened a host");
      Cli.Result r = Cli.run("rules", "list", "--netns", n);
      assertEquals(3, r.outLines().size(), r::toString);
      String[] row = r.outLines().get(2).split("\\s+");
      assertEquals(List.of("output", "4445", "drop", host), List.of(row).subList(1, 5));
      assertEquals(Long.toString(child.pid()), row[5]);
      assertEquals("alive", row[6]);
      assertEquals("yes", row[7], "its socket is bound");
      Cli.Result refused = Cli.run("rules", "remove", row[0], "--netns", n);
      assertEquals(ExitCodes.FAILURE, refused.status(), refused::toString);
      assertTrue(refused.err().contains("running divert host " + host), refused::toString);
      child.destroyForcibly();
      assertTrue(child.waitFor(10, TimeUnit.SECONDS));
    } finally {
      child.destroyForcibly();
    }
    Cli.Result r = Cli.run("rules", "list", "--netns", n);
    String[] row = r.outLines().get(2).split("\\s+");
    assertEquals("dead", row[6], r::toString);
    assertEquals("no", row[7], r::toString);

    r = Cli.run("rules", "cleanup", "--dry-run", "--netns", n);
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    assertTrue(r.outLines().size() >= 2, r::toString);
    for (String l : r.outLines()) {
      assertTrue(l.startsWith("would remove "), r::toString);
    }
    assertEquals(3, Cli.run("rules", "list", "--netns", n).outLines().size(), "dry run");

    r = Cli.run("rules", "cleanup", "--netns", n);
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    assertEquals(
        "removed rule "
            + row[0]
            + ": output -p udp -j DIVERT 4445 (host "
            + host
            + ", pid "
            + row[5]
            + ", dead, no-listener drop)",
        r.outLines().get(0));
    assertTrue(r.out().contains("removed port chain DIVERT4J-D4445 "), r::toString);
    r = Cli.run("rules", "list", "--netns", n);
    assertEquals(2, r.outLines().size(), r::toString);
    assertTrue(r.outLines().get(1).startsWith(staticId + " "), r::toString);
  }

  @Test
  void aFlowRuleAddedAndRemovedLeavesConntrackAccountingAsItWas() throws Exception {
    assumeKernel();
    String acct = "net.netfilter.nf_conntrack_acct";
    try (Netns ns = Netns.create(Netns.uniqueName("rflow"))) {
      assertEquals("0", ns.sysctl(acct).trim(), "a new namespace counts nothing");
      Cli.Result add =
          Cli.run(
              "rules",
              "add",
              "input -p udp filter \"flow.Packets <= 6\" -j DIVERT 1234",
              "--netns",
              ns.name());
      assertEquals(ExitCodes.OK, add.status(), add::toString);
      Matcher m = ADDED.matcher(add.out().trim());
      assertTrue(m.matches(), add::toString);
      assertEquals("1", ns.sysctl(acct).trim(), "connbytes counts from now on");
      // the input chain moved after connection tracking, where connbytes sees the counters
      String mangle = ns.execChecked("iptables-nft-save", "-t", "mangle");
      assertTrue(mangle.contains("-m connbytes --connbytes 1:6"), mangle);
      Cli.Result remove = Cli.run("rules", "remove", m.group(1), "--netns", ns.name());
      assertEquals(ExitCodes.OK, remove.status(), remove::toString);
      assertEquals("0", ns.sysctl(acct).trim(), "off again with the last connbytes rule");
      assertTrue(KernelRules.list(ns.name()).isEmpty());
    }
  }
}
