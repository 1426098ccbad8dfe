package org.divert4j.pcap.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.divert4j.DivertException;
import org.divert4j.HostOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The parts of {@code pcap.offloads} that need no interface: which features offend, the refusal
 * line and its commands, the property, and the ledger's files and owners. Runs unprivileged.
 */
class OffloadLedgerTest {
  @Test
  void offendingFeaturesAreReceiveAggregationAndTransmitChecksums() {
    for (String f : List.of("rx-gro", "rx-lro", "rx-gro-hw", "rx-gro-list")) {
      assertTrue(Offloads.receiveAggregation(f), f);
    }
    assertFalse(Offloads.receiveAggregation("rx-checksum"));
    assertTrue(Offloads.transmitChecksum("tx-checksum-ip-generic"));
    assertTrue(Offloads.transmitChecksum("tx-checksum-ipv4"));
    assertFalse(Offloads.transmitChecksum("tx-tcp-segmentation"), "goes with the checksums");
    assertFalse(Offloads.transmitChecksum("rx-checksum"));
  }

  @Test
  void theRefusalIsOneLineWithACommandPerInterface() {
    Map<Offloads.Target, List<String>> found = new LinkedHashMap<>();
    found.put(
        new Offloads.Target("/var/run/netns/left", "1", "eth0", 2, "the veth peer of out0", false),
        List.of("tx-checksum-ip-generic", "tx-checksum-sctp"));
    found.put(new Offloads.Target(null, "2", "out0", 3, "outside", true), List.of("rx-gro"));
    found.put(
        new Offloads.Target("/proc/42/ns/net", "3", "eth1", 4, "inside", true), List.of("rx-lro"));
    String m = Offloads.refusal(found);
    assertFalse(m.contains("\n"), m);
    assertTrue(
        m.contains(
            "eth0 (the veth peer of out0, in namespace left) has tx-checksum-ip-generic"
                + " tx-checksum-sctp on, fix: ip netns exec left ethtool -K eth0"
                + " tx-checksum-ip-generic off tx-checksum-sctp off;"),
        m);
    assertTrue(m.contains("out0 (outside) has rx-gro on, fix: ethtool -K out0 rx-gro off;"), m);
    assertTrue(m.contains("fix: nsenter --net=/proc/42/ns/net ethtool -K eth1 rx-lro off;"), m);
    assertTrue(m.endsWith("or set pcap.offloads=disable"), m);
  }

  @Test
  void thePropertyTakesDisableOrRefuseAndDefaultsToDisable() throws Exception {
    HostOptions.Builder b =
        HostOptions.builder().property(HostConfig.OUTSIDE, "a").property(HostConfig.INSIDE, "b");
    assertEquals(Offloads.Mode.DISABLE, HostConfig.parse(b.build()).offloads);
    assertEquals(
        Offloads.Mode.REFUSE,
        HostConfig.parse(b.property(HostConfig.OFFLOADS, "refuse").build()).offloads);
    DivertException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            DivertException.class,
            () -> HostConfig.parse(b.property(HostConfig.OFFLOADS, "handle").build()));
    assertTrue(e.getMessage().contains("pcap.offloads='handle'"), e.getMessage());
  }

  @Test
  void entriesRoundTripAndTheirOwnersAreJudgedByPidAndStartTime(@TempDir Path dir)
      throws Exception {
    OffloadLedger ledger = new OffloadLedger(dir);
    long[] self = OffloadLedger.self();
    OffloadLedger.Entry mine =
        new OffloadLedger.Entry(
            "/var/run/netns/x", "4026532001", "eth0", 2, List.of("a", "b"), self[0], self[1]);
    ledger.locked(
        () -> {
          ledger.write(mine);
          return null;
        });
    assertEquals(List.of(mine), ledger.entries());
    assertTrue(OffloadLedger.ownerAlive(mine));
    assertFalse(
        OffloadLedger.ownerAlive(
            new OffloadLedger.Entry("", "1", "eth0", 2, List.of(), self[0], self[1] - 1000)),
        "same pid, another start time: a reused pid");
    long[] dead = deadPid();
    OffloadLedger.Entry gone =
        new OffloadLedger.Entry(
            dir.resolve("no-such-namespace").toString(),
            "4026532002",
            "eth1",
            3,
            List.of("rx-gro"),
            dead[0],
            dead[1]);
    assertFalse(OffloadLedger.ownerAlive(gone));
    ledger.locked(
        () -> {
          ledger.write(gone);
          return null;
        });
    List<OffloadLedger.Entry> done = ledger.locked(ledger::restoreDead);
    assertEquals(List.of(gone), done, "a dead owner's entry whose namespace is gone is removed");
    assertEquals(List.of(mine), ledger.entries(), "a live owner's entry is left alone");
    assertTrue(Files.exists(dir.resolve("4026532001-2.offloads")));
    ledger.locked(
        () -> {
          ledger.remove(mine);
          return null;
        });
    assertEquals(List.of(), ledger.entries());
  }

  /** The pid and start time of a process that has ended. */
  private static long[] deadPid() throws Exception {
    Process p = new ProcessBuilder("true").start();
    long start = p.toHandle().info().startInstant().map(i -> i.toEpochMilli()).orElse(0L);
    p.waitFor();
    return new long[] {p.pid(), start == 0 ? 1 : start};
  }
}
