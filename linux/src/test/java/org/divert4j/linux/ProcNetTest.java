package org.divert4j.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The /proc/net readers: their parsers on fixed text, and a live read of this namespace. */
class ProcNetTest {
  @Test
  void queueTableRowsAreNumbersPerColumn() {
    // two queues as seq_show prints them, and a line too short to be a row
    List<long[]> rows =
        ProcNet.parseQueueTable(
            List.of(
                "    7  12345     3 2 65531     4     5      100  1",
                "65000 4294967295     0 2 65531     0     0        9  1",
                "garbage"));
    assertEquals(2, rows.size());
    long[] q = rows.get(0);
    assertEquals(7, q[ProcNet.QUEUE_NUM]);
    assertEquals(3, q[ProcNet.QUEUE_TOTAL]);
    assertEquals(4, q[ProcNet.QUEUE_DROPPED]);
    assertEquals(5, q[ProcNet.USER_DROPPED]);
    assertEquals(100, q[ProcNet.ID_SEQUENCE]);
    assertEquals(4294967295L, rows.get(1)[1], "peer_portid is unsigned");
  }

  @Test
  void snmp6CountersAreReadByNameAndAMissingOneIsZero() {
    // snmp6_seq_show_item: "%-32s\t%lu"
    long[] r =
        ProcNet.parseSnmp6(
            List.of(
                "Ip6InReceives                   \t1200",
                "Ip6ReasmTimeout                 \t3",
                "Ip6ReasmReqds                   \t40",
                "Ip6ReasmFails                   \t5",
                "Ip6ReasmOKs                     \t7",
                "Icmp6InMsgs                     \tx"),
            "Ip6ReasmTimeout",
            "Ip6ReasmOKs",
            "Ip6ReasmFails",
            "",
            "Ip6Missing");
    assertArrayEquals(new long[] {3, 7, 5, 0, 0}, r);
  }

  @Test
  void snmp6OfThisNamespaceHasTheReassemblyCounters() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        java.nio.file.Files.exists(java.nio.file.Path.of(ProcNet.SNMP6)),
        "no /proc/net/snmp6: the kernel has no IPv6");
    long[] r = ProcNet.reassembly6();
    assertEquals(4, r.length);
    assertTrue(r[0] >= 0 && r[1] >= 0 && r[2] >= r[0], "ReasmFails counts every timeout too");
  }

  @Test
  void logTableGivesTheBoundGroups() {
    // nfnetlink_log's seq_show: "%5u %6u %5u %1u %5u %6u %2u"
    assertEquals(
        java.util.Set.of(4100, 7),
        ProcNet.parseLogGroups(
            List.of(
                " 4100  31337     0 2 65535    100  1",
                "    7 4294967295     3 2 65535    100  2",
                "x y")));
  }

  @Test
  void countersAreFoundByName() {
    List<String> snmp =
        List.of(
            "Ip: Forwarding DefaultTTL ReasmTimeout ReasmOKs ReasmFails",
            "Ip: 1 64 3 4 5",
            "Udp: InDatagrams NoPorts",
            "Udp: 10 2");
    assertArrayEquals(
        new long[] {5, 3, 0},
        ProcNet.parseCounters(snmp, "Ip:", "ReasmFails", "ReasmTimeout", "NoSuchCounter"));
    assertArrayEquals(new long[] {2}, ProcNet.parseCounters(snmp, "Udp:", "NoPorts"));
    assertArrayEquals(new long[] {0}, ProcNet.parseCounters(snmp, "IpExt:", "ReasmOverlaps"));
  }

  @Test
  void liveCountersOfThisNamespace() throws Exception {
    long[] r = ProcNet.reassembly();
    assertEquals(4, r.length);
    for (long v : r) {
      assertTrue(v >= 0, "a counter: " + v);
    }
    long[] forwarding = ProcNet.counters(ProcNet.SNMP, "Ip:", "Forwarding");
    assertTrue(forwarding[0] == 1 || forwarding[0] == 2, "Forwarding is 1 or 2 (RFC 1213)");
    for (long[] row : ProcNet.queueTable()) {
      assertTrue(row[ProcNet.QUEUE_NUM] >= 0 && row[ProcNet.QUEUE_NUM] <= 65535);
    }
  }
}
