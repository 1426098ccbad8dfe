package org.divert4j.pcap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;
import org.divert4j.linux.Ethtool;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.linux.testbed.VethPair;
import org.divert4j.spi.Availability;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code pcap.offloads} on a line of three namespaces with the veth driver's default features
 * ({@code peer eth0 == out0 [segment] in0 == eth0 host}): disable turns off what breaks the segment
 * and restores it on close, and after SIGKILL at the next open; refuse names each feature and the
 * command that fixes it. Needs root; skipped with the reason otherwise.
 */
class OffloadsTest {
  private static final Path LEDGER = Path.of("/run/divert4j/offloads");
  private final List<Netns> namespaces = new ArrayList<>();
  private Netns peer;
  private Netns segment;
  private Netns host;

  @BeforeEach
  void line() throws Exception {
    Availability a = new PcapProvider().availability();
    assumeTrue(Shell.isRoot(), "offload features and namespaces need root");
    assumeTrue(a.available(), "the pcap backend is unavailable: " + a.reason());
    peer = ns("offpeer");
    segment = ns("offseg");
    host = ns("offhost");
    VethPair.create(peer, "eth0", segment, "out0", 1500);
    VethPair.create(segment, "in0", host, "eth0", 1500);
    // GRO is off on a veth by default; on here, so that receive aggregation is dealt with too
    segment.execChecked("ethtool", "-K", "out0", "gro", "on");
  }

  private Netns ns(String role) throws IOException {
    Netns n = Netns.create(Netns.uniqueName(role));
    namespaces.add(n);
    return n;
  }

  @AfterEach
  void removeLine() throws Exception {
    List<String> inodes = new ArrayList<>();
    for (Netns n : namespaces) {
      try (NetnsThread t = NetnsThread.open(n.path().toString(), "check")) {
        inodes.add(t.inode());
      }
      n.close();
    }
    if (Files.isDirectory(LEDGER)) {
      try (Stream<Path> s = Files.list(LEDGER)) {
        for (Path f : (Iterable<Path>) s::iterator) {
          for (String i : inodes) {
            assertFalse(f.getFileName().toString().startsWith(i + "-"), "ledger entry left: " + f);
          }
        }
      }
    }
  }

  private HostOptions options(String mode) {
    return HostOptions.builder()
        .property(PcapProvider.NETNS, segment.name())
        .property(PcapProvider.OUTSIDE, "out0")
        .property(PcapProvider.INSIDE, "in0")
        .property(PcapProvider.OFFLOADS, mode)
        .build();
  }

  /** Every feature of an interface, on or off. */
  private static Map<String, Boolean> features(Netns ns, String dev) throws IOException {
    try (NetnsThread t = NetnsThread.open(ns.path().toString(), "features")) {
      Ethtool.Features f = t.run(() -> Ethtool.features(dev));
      Map<String, Boolean> m = new TreeMap<>();
      for (int i = 0; i < f.names().length; i++) {
        m.put(f.names()[i], f.active()[i]);
      }
      return m;
    }
  }

  private Map<String, Map<String, Boolean>> all() throws IOException {
    Map<String, Map<String, Boolean>> m = new TreeMap<>();
    m.put("peer eth0", features(peer, "eth0"));
    m.put("out0", features(segment, "out0"));
    m.put("in0", features(segment, "in0"));
    m.put("host eth0", features(host, "eth0"));
    return m;
  }

  private void assertOffendingOff() throws IOException {
    for (Map.Entry<String, Boolean> e : features(peer, "eth0").entrySet()) {
      if (e.getKey().startsWith("tx-checksum-")) {
        assertFalse(e.getValue(), "peer eth0 " + e.getKey() + " is off while the host is open");
      }
    }
    assertFalse(features(host, "eth0").get("tx-checksum-ip-generic"), "host eth0 checksums");
    // TSO needs checksum offload: the kernel turns it off with it (netdev_fix_features)
    assertFalse(features(peer, "eth0").get("tx-tcp-segmentation"), "peer eth0 TSO");
    assertFalse(features(host, "eth0").get("tx-tcp-segmentation"), "host eth0 TSO");
    assertFalse(features(segment, "out0").get("rx-gro"), "GRO on the capture interface");
  }

  @Test
  void disableTurnsOffWhatBreaksTheSegmentAndRestoresItOnClose() throws Exception {
    Map<String, Map<String, Boolean>> before = all();
    assertTrue(before.get("peer eth0").get("tx-checksum-ip-generic"), "veth default");
    assertTrue(before.get("out0").get("rx-gro"));
    try (DivertHost h = new PcapProvider().open(options("disable"))) {
      assertOffendingOff();
      assertTrue(
          features(segment, "out0").get("tx-checksum-ip-generic"),
          "the segment's own transmit offloads are left alone");
    }
    assertEquals(before, all(), "every feature as it was");
  }

  @Test
  void disableIsTheDefault() throws Exception {
    Map<String, Map<String, Boolean>> before = all();
    HostOptions o =
        HostOptions.builder()
            .property(PcapProvider.NETNS, segment.name())
            .property(PcapProvider.OUTSIDE, "out0")
            .property(PcapProvider.INSIDE, "in0")
            .build();
    try (DivertHost h = new PcapProvider().open(o)) {
      assertOffendingOff();
    }
    assertEquals(before, all());
  }

  @Test
  void refuseNamesEachFeatureAndTheCommandThatFixesIt() throws Exception {
    Map<String, Map<String, Boolean>> before = all();
    DivertException e =
        assertThrows(DivertException.class, () -> new PcapProvider().open(options("refuse")));
    String m = e.getMessage();
    assertFalse(m.contains("\n"), "one line: " + m);
    assertEquals(before, all(), "refuse changes nothing");
    String fix = "ip netns exec " + peer.name() + " ethtool -K eth0 ";
    assertTrue(m.contains(fix), m);
    assertTrue(m.contains("tx-checksum-ip-generic off"), m);
    assertTrue(m.contains("ip netns exec " + segment.name() + " ethtool -K out0 rx-gro off"), m);
    assertTrue(m.contains("ip netns exec " + host.name() + " ethtool -K eth0 "), m);
    // The commands it prints are the fix: after running them, refuse opens.
    for (String part : m.split("fix: ")) {
      if (part.startsWith("ip netns exec ")) {
        String cmd = part.substring(0, part.indexOf(';'));
        Shell.check(cmd.split(" "));
      }
    }
    try (DivertHost h = new PcapProvider().open(options("refuse"))) {
      assertNotNull(h.name());
    }
  }

  @Test
  void badModeIsRefusedNamingTheProperty() {
    DivertException e =
        assertThrows(DivertException.class, () -> new PcapProvider().open(options("handle")));
    assertTrue(e.getMessage().contains("pcap.offloads"), e.getMessage());
  }

  @Test
  void whatAKilledHostTurnedOffIsRestoredByTheNextOpen() throws Exception {
    Map<String, Map<String, Boolean>> before = all();
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(OffloadsChild.class.getName());
    for (Map.Entry<String, String> p : options("disable").properties().entrySet()) {
      cmd.add(p.getKey() + "=" + p.getValue());
    }
    Process child = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      BufferedReader r =
          new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
      String ready = null;
      for (String line; (line = r.readLine()) != null; ) {
        if (line.startsWith("READY ")) {
          ready = line;
          break;
        }
        System.out.println("child: " + line);
      }
      assertNotNull(ready, "the child opened its host");
      assertOffendingOff();
      child.destroyForcibly(); // SIGKILL: no close, no shutdown hook
      assertTrue(child.waitFor(10, TimeUnit.SECONDS));
    } finally {
      child.destroyForcibly();
    }
    assertOffendingOff(); // nothing restored them: the child died holding them
    long entries = ledgerEntriesOf(child.pid());
    assertEquals(3, entries, "the dead host's entries: peer eth0, out0, host eth0");
    try (DivertHost h = new PcapProvider().open(options("disable"))) {
      assertEquals(0, ledgerEntriesOf(child.pid()), "the next open restored the dead host's");
      assertOffendingOff();
    }
    assertEquals(before, all(), "every feature as it was before the killed host");
  }

  private static long ledgerEntriesOf(long pid) throws IOException {
    if (!Files.isDirectory(LEDGER)) {
      return 0;
    }
    long n = 0;
    try (Stream<Path> s = Files.list(LEDGER)) {
      for (Path f : (Iterable<Path>) s::iterator) {
        if (f.toString().endsWith(".offloads")
            && Files.readString(f).contains("pid=" + pid + "\n")) {
          n++;
        }
      }
    }
    return n;
  }

  @Test
  void theSegmentOpensAfterTheOffloadsAreOff() throws Exception {
    // Offloads off by hand, as docs/backends.md used to ask: nothing to do, nothing recorded.
    peer.execChecked("ethtool", "-K", "eth0", "tx", "off", "tso", "off", "gso", "off");
    host.execChecked("ethtool", "-K", "eth0", "tx", "off", "tso", "off", "gso", "off");
    segment.execChecked("ethtool", "-K", "out0", "gro", "off");
    Map<String, Map<String, Boolean>> before = all();
    try (DivertHost h = new PcapProvider().open(options("refuse"))) {
      assertEquals(before, all());
    }
    assertEquals(before, all());
  }
}
