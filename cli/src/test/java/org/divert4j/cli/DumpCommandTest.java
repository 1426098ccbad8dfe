package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code divert dump} on the simulation's test bed, and its bad input. */
class DumpCommandTest {
  private static final Pattern SUMMARY =
      Pattern.compile(
          "\\d+ packets?, \\d+ bytes( in \\d+\\.\\d{3} s: \\d+ packets/s, \\d+\\.\\d{3} Mbit/s)?");

  @Test
  void printsEveryDivertedPacketAndWritesItBack() {
    Cli.Result r = Cli.run("dump", "--backend", "sim", "--rule", "input icmp", "--generate", "3");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    List<String> lines = r.outLines();
    assertEquals(5, lines.size(), r::toString);
    for (int seq = 1; seq <= 3; seq++) {
      assertEquals(
          "input  in  eth0  10.0.1.2 > 10.0.1.1 ICMP echo request id=209 seq=" + seq + " len=84",
          lines.get(seq - 1));
    }
    assertTrue(lines.get(3).startsWith("3 packets, 252 bytes"), r::toString);
    assertTrue(SUMMARY.matcher(lines.get(3)).matches(), lines.get(3));
    assertEquals(
        "written back 3; socket 1234: received 3, written back 3, dropped 0, lost 0", lines.get(4));
    assertEquals(
        List.of(
            "dump: 'input -p icmp -j DIVERT 1234' on sim host host#1; writing back every packet;"
                + " Ctrl-C to stop"),
        r.errLines());
  }

  @Test
  void aFilterAloneDivertsWhatItSelectsOnInputAndOutput() {
    Cli.Result r =
        Cli.run("dump", "--backend", "sim", "--filter", "icmp.Type == 8", "--generate", "6");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    List<String> lines = r.outLines();
    for (int i = 0; i < 3; i++) {
      // the generator alternates pings and UDP datagrams, numbering both
      assertEquals(
          "input  in  eth0  10.0.1.2 > 10.0.1.1 ICMP echo request id=209 seq="
              + (2 * i + 1)
              + " len=84",
          lines.get(i),
          r::toString);
    }
    assertTrue(lines.get(3).startsWith("3 packets, 252 bytes"), r::toString);
    assertTrue(
        r.err()
            .contains(
                "'input filter \"icmp.Type == 8\" -j DIVERT 1234', 'output filter \"icmp.Type =="
                    + " 8\" -j DIVERT 1234'"),
        r::toString);
  }

  @Test
  void aFilterNarrowsEveryRule() {
    Cli.Result r =
        Cli.run(
            "dump", "--backend", "sim", "--rule", "input", "--filter", "udp", "--generate", "4");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    assertTrue(r.out().contains("2 packets"), r::toString);
    assertTrue(r.err().contains("'input filter \"udp\" -j DIVERT 1234'"), r::toString);
    Cli.Result bad = Cli.run("dump", "--backend", "sim", "--filter", "tcp.DstPort ==");
    assertEquals(ExitCodes.USAGE, bad.status(), bad::toString);
    assertTrue(
        bad.err()
            .contains(
                "bad filter: at 15: expected a field or a number, found the end of the filter"),
        bad::toString);
  }

  @Test
  void noReinjectDropsEveryPacket() {
    Cli.Result r =
        Cli.run(
            "dump", "--backend", "sim", "--rule", "input icmp", "--generate", "4", "--no-reinject");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    assertTrue(
        r.out().contains("dropped 4; socket 1234: received 4, written back 0, dropped 4, lost 0"),
        r::toString);
    assertTrue(r.err().contains("dropping every packet"), r::toString);
  }

  @Test
  void statsEveryPrintsTheSocketsCountersToStderr() {
    Cli.Result r =
        Cli.run(
            "dump",
            "--backend",
            "sim",
            "--rule",
            "input",
            "--generate",
            "3000",
            "--quiet",
            "--stats-every",
            "1ms");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    Pattern line =
        Pattern.compile(
            "stats ms=\\d+ epochMs=\\d+ received=(\\d+) reinjected=(\\d+) .*dropped=\\{.*\\}");
    long last = 0;
    int lines = 0;
    for (String l : r.err().split("\n")) {
      Matcher m = line.matcher(l);
      assertTrue(m.matches(), "a stats line: " + l);
      long received = Long.parseLong(m.group(1));
      assertTrue(received >= last && received <= 3000, l);
      assertTrue(Long.parseLong(m.group(2)) <= received, l);
      last = received;
      lines++;
    }
    assertTrue(lines >= 1, r::toString);
    assertTrue(r.outLines().get(1).startsWith("written back 3000"), r::toString);
  }

  @Test
  void quietPrintsOnlyTheSummary() {
    Cli.Result r =
        Cli.run("dump", "--backend", "sim", "--rule", "input", "--generate", "1000", "--quiet");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    List<String> lines = r.outLines();
    assertEquals(2, lines.size(), r::toString);
    assertTrue(lines.get(0).startsWith("1000 packets, "), r::toString);
    assertTrue(SUMMARY.matcher(lines.get(0)).matches(), lines.get(0));
    assertTrue(
        lines.get(1).startsWith("written back 1000; socket 1234: received 1000"), r::toString);
    assertEquals("", r.err());
  }

  @Test
  void theRulesChooseWhatIsGeneratedAndTheirPortsApply() {
    Cli.Result r =
        Cli.run(
            "dump",
            "--backend=sim",
            "--port=99",
            "--rule=input -p udp --dport 53",
            "--rule=input -p tcp --dport 80",
            "--generate=2");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    List<String> lines = r.outLines();
    assertTrue(
        lines.get(0).startsWith("input  in  eth0  10.0.1.2:40000 > 10.0.1.1:53 UDP len="),
        r::toString);
    assertTrue(
        lines.get(1).startsWith("input  in  eth0  10.0.1.2:40000 > 10.0.1.1:80 TCP [S] len=40"),
        r::toString);
    assertTrue(r.out().contains("socket 99: received 2"), r::toString);
  }

  @Test
  void countStopsAfterThatManyPackets() {
    Cli.Result r =
        Cli.run(
            "dump", "--backend", "sim", "--rule", "input icmp", "--generate", "10", "--count", "4");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    assertEquals(6, r.outLines().size(), r::toString);
    assertTrue(r.outLines().get(4).startsWith("4 packets, 336 bytes"), r::toString);
  }

  @Test
  void writesAPcapFileOfRawIpPackets(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("out.pcap");
    Cli.Result r =
        Cli.run(
            "dump",
            "--backend",
            "sim",
            "--rule",
            "input",
            "--generate",
            "4",
            "--write",
            file.toString());
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    assertTrue(r.out().contains("wrote 4 packets to " + file), r::toString);
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    assertEquals(0xa1b2c3d4, b.getInt(0));
    assertEquals(PcapWriter.LINKTYPE_RAW, b.getInt(20));
    int at = 24;
    int records = 0;
    while (at < b.limit()) {
      int len = b.getInt(at + 8);
      assertEquals(len, b.getInt(at + 12));
      assertEquals(0x45, b.get(at + 16) & 0xff, "each record starts at the IPv4 header");
      assertEquals(len, b.order(ByteOrder.BIG_ENDIAN).getShort(at + 16 + 2) & 0xffff);
      b.order(ByteOrder.LITTLE_ENDIAN);
      at += 16 + len;
      records++;
    }
    assertEquals(4, records);
    assertEquals(b.limit(), at);
  }

  @Test
  void anUnwritablePcapFileFailsBeforeAnythingIsDiverted(@TempDir Path dir) {
    Path file = dir.resolve("no/such/dir/out.pcap");
    Cli.Result r =
        Cli.run(
            "dump",
            "--backend",
            "sim",
            "--rule",
            "input",
            "--generate",
            "1",
            "-w",
            file.toString());
    assertEquals(ExitCodes.FAILURE, r.status(), r::toString);
    assertEquals(
        List.of("divert dump: cannot write the pcap file " + file + ": no such directory"),
        r.errLines());
    assertEquals("", r.out());
  }

  @Test
  void withoutTrafficItEndsAfterTheDurationAndSaysWhy() {
    Cli.Result r =
        Cli.run("dump", "--backend", "sim", "--rule", "input icmp", "--duration", "150ms");
    assertEquals(ExitCodes.OK, r.status(), r::toString);
    assertEquals("0 packets, 0 bytes", r.outLines().get(0));
    assertTrue(r.err().contains("add --generate N to send some"), r::toString);
  }

  @Test
  void stoppingLikeCtrlCEndsTheLoopWithTheSummary() throws Exception {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl =
        Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true), false);
    DumpCommand dump = cl.getSubcommands().get("dump").getCommand();
    CompletableFuture<Integer> status =
        CompletableFuture.supplyAsync(
            () -> cl.execute("dump", "--backend", "sim", "--rule", "input icmp"));
    assertTrue(dump.awaitRunning(Duration.ofSeconds(10)), err::toString);
    Thread.sleep(100); // let it block in receive
    dump.stop(); // what the shutdown hook does on SIGINT
    assertEquals(ExitCodes.OK, status.get(10, TimeUnit.SECONDS), err::toString);
    assertTrue(out.toString().startsWith("0 packets, 0 bytes\n"), out::toString);
  }

  @Test
  void badInputIsAOneLineUsageError() {
    String[][] cases = {
      {"dump", "--backend", "sim", "--rule", "input icmpx"},
      {"dump", "--backend", "sim", "--rule", "sideways icmp"},
      {"dump", "--backend", "sim", "--rule", "input -p udp --dport 70000"},
      {"dump", "--backend", "sim", "--rule", "input icmp", "--port", "0"},
      {"dump", "--backend", "sim", "--rule", "input icmp", "--port", "65536"},
      {"dump", "--backend", "sim", "--rule", "input icmp", "--port", "http"},
      {"dump", "--backend", "sim", "--rule", "input icmp port 7", "--port", "8"},
      {"dump", "--backend", "sim"},
      {"dump", "--backend", "nosuch", "--rule", "input icmp"},
      {"dump", "--backend", "sim", "--rule", "input icmp", "--duration", "soon"},
      {"dump", "--backend", "sim", "--rule", "input icmp", "--count", "0"},
      {"dump", "--backend", "sim", "--rule", "input icmp", "--generate", "1", "--netns", "x"},
      {"dump", "--backend", "sim", "--rule", "input icmp", "--netns", "x"},
      {"dump", "--backend", "sim", "--rule", "input icmp", "--batch", "2000"},
    };
    for (String[] args : cases) {
      Cli.Result r = Cli.run(args);
      assertEquals(ExitCodes.USAGE, r.status(), () -> String.join(" ", args) + "\n" + r);
      assertEquals(1, r.errLines().size(), r::toString);
      assertTrue(r.err().startsWith("divert dump: "), r::toString);
      assertEquals("", r.out(), r::toString);
    }
  }

  @Test
  void errorsSayWhatIsWrong() {
    assertTrue(
        Cli.run("dump", "--backend", "sim", "--rule", "input icmp", "--port", "70000")
            .err()
            .contains("a divert port must be a number from 1 to 65535, not '70000'"));
    assertTrue(
        Cli.run("dump", "--backend", "sim", "--rule", "input icmpx")
            .err()
            .contains("malformed rule: unexpected 'icmpx' in rule 'input icmpx' (word 2)"));
    assertTrue(
        Cli.run("dump", "--backend", "sim", "--rule", "input icmp port 7", "--port", "8")
            .err()
            .contains("diverts to port 7 but dump listens on port 8"));
    assertTrue(
        Cli.run("dump", "--backend", "sim").err().contains("dump needs --rule, --filter or both"));
  }

  @Test
  void missingPrivilegesAreNamedWithExitStatus3() {
    Cli.Result r =
        Cli.run(
            "dump",
            "--backend",
            "sim",
            "-P",
            "sim.privileges=none",
            "--rule",
            "input icmp",
            "--generate",
            "1");
    assertEquals(ExitCodes.UNAVAILABLE, r.status(), r::toString);
    assertEquals(1, r.errLines().size(), r::toString);
    assertTrue(r.err().contains("needs CAP_NET_ADMIN and CAP_NET_RAW"), r::toString);
  }

  /**
   * Without a backend that can be selected automatically, dump says how to name one. Run in a child
   * JVM whose class path has the kernel and pcap backends' classes but not their provider
   * registrations (the CLI links against them; the simulation is never selected automatically), so
   * that the case is the same as root, with a usable kernel, as anywhere.
   */
  @Test
  void withoutABackendItSaysHowToNameOne(@TempDir Path tmp) throws Exception {
    List<String> path = new java.util.ArrayList<>();
    int n = 0;
    for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
      if (e.contains("backend-rawsocket") || e.contains("backend-pcap")) {
        Path copy = tmp.resolve("unregistered-" + n++);
        copyWithoutProviders(Path.of(e), copy);
        path.add(copy.toString());
      } else {
        path.add(e);
      }
    }
    ProcessBuilder pb =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                String.join(java.io.File.pathSeparator, path),
                "org.divert4j.cli.Main",
                "dump",
                "--rule",
                "input icmp")
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    pb.environment().remove(org.divert4j.Divert.BACKEND_ENV);
    Process p = pb.start();
    CompletableFuture<String> err =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return new String(p.getErrorStream().readAllBytes());
              } catch (java.io.IOException e) {
                return e.toString();
              }
            });
    p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child CLI must exit");
    String text = err.get(10, TimeUnit.SECONDS);
    assertEquals(ExitCodes.UNAVAILABLE, p.exitValue(), text);
    assertEquals(1, text.lines().count(), text);
    assertTrue(text.contains("name one with --backend, e.g. --backend sim"), text);
  }

  /** Copies a class directory or jar into {@code to}, leaving out its divert provider entry. */
  private static void copyWithoutProviders(Path from, Path to) throws java.io.IOException {
    String skip = "META-INF/services/org.divert4j.spi.DivertProvider";
    Files.createDirectories(to);
    if (Files.isDirectory(from)) {
      try (var files = Files.walk(from)) {
        for (Path f : (Iterable<Path>) files::iterator) {
          String rel = from.relativize(f).toString().replace(java.io.File.separatorChar, '/');
          if (Files.isRegularFile(f) && !rel.equals(skip)) {
            Files.createDirectories(to.resolve(rel).getParent());
            Files.copy(f, to.resolve(rel));
          }
        }
      }
      return;
    }
    try (var jar = new java.util.jar.JarFile(from.toFile())) {
      for (var entry : java.util.Collections.list(jar.entries())) {
        if (!entry.isDirectory() && !entry.getName().equals(skip)) {
          Path out = to.resolve(entry.getName());
          Files.createDirectories(out.getParent());
          try (var in = jar.getInputStream(entry)) {
            Files.copy(in, out);
          }
        }
      }
    }
  }
}
