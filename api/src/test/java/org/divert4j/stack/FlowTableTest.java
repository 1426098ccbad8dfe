package org.divert4j.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class FlowTableTest {
  private static final long SECOND = 1_000_000_000L;
  private static final int A = 0x0a000001;
  private static final int B = 0x0a000002;

  private static ByteBuffer v4(int proto, int src, int dst, int fragField, int sport, int dport) {
    ByteBuffer b = ByteBuffer.allocate(20 + 20);
    b.put(0, (byte) 0x45).putShort(2, (short) 40).putShort(6, (short) fragField);
    b.put(9, (byte) proto).putInt(12, src).putInt(16, dst);
    b.putShort(20, (short) sport).putShort(22, (short) dport);
    return b;
  }

  private static ByteBuffer udp(int src, int dst, int sport, int dport) {
    return v4(17, src, dst, 0, sport, dport);
  }

  private static ByteBuffer tcp(int src, int dst, int sport, int dport, int flags) {
    ByteBuffer b = v4(6, src, dst, 0x4000, sport, dport);
    b.put(20 + 13, (byte) flags);
    return b;
  }

  private static ByteBuffer echo(int src, int dst, int type, int id) {
    ByteBuffer b = v4(1, src, dst, 0, 0, 0);
    b.put(20, (byte) type).putShort(24, (short) id);
    return b;
  }

  private static ByteBuffer udp6(long srcLo, long dstLo, int sport, int dport, boolean fragHeader) {
    int ext = fragHeader ? 8 : 0;
    ByteBuffer b = ByteBuffer.allocate(40 + ext + 8);
    b.put(0, (byte) 0x60).putShort(4, (short) (ext + 8)).put(6, (byte) (fragHeader ? 44 : 17));
    b.putLong(8, 0x20010db800000000L).putLong(16, srcLo);
    b.putLong(24, 0x20010db800000000L).putLong(32, dstLo);
    if (fragHeader) {
      b.put(40, (byte) 17).putShort(42, (short) 1); // offset 0, M set
    }
    b.putShort(40 + ext, (short) sport).putShort(42 + ext, (short) dport);
    return b;
  }

  @Test
  void bothDirectionsCountInOneConnectionAndConnectionsApart() {
    FlowTable t = new FlowTable();
    assertEquals(1, t.count(udp(A, B, 5000, 53), 0));
    assertEquals(2, t.count(udp(B, A, 53, 5000), 0));
    assertEquals(1, t.count(udp(A, B, 5001, 53), 0), "another source port, another connection");
    assertEquals(3, t.count(udp(A, B, 5000, 53), 0));
    assertEquals(1, t.count(tcp(A, B, 5000, 53, 0x02), 0), "another protocol");
    assertEquals(3, t.peek(udp(B, A, 53, 5000), 0), "peek does not count");
    assertEquals(3, t.peek(udp(A, B, 5000, 53), 0));
    assertEquals(0, t.peek(udp(A, B, 5002, 53), 0), "never seen");
  }

  @Test
  void echoIsKeyedByItsIdentifierAndOtherProtocolsByAddresses() {
    FlowTable t = new FlowTable();
    assertEquals(1, t.count(echo(A, B, 8, 77), 0));
    assertEquals(2, t.count(echo(B, A, 0, 77), 0));
    assertEquals(1, t.count(echo(A, B, 8, 78), 0));
    assertEquals(1, t.count(v4(47, A, B, 0, 1, 2), 0));
    assertEquals(2, t.count(v4(47, B, A, 0, 9, 9), 0), "GRE: the addresses alone");
  }

  @Test
  void laterFragmentsAndNonIpHaveNoConnection() {
    FlowTable t = new FlowTable();
    assertEquals(1, t.count(v4(17, A, B, 0x2000, 5000, 53), 0), "a first fragment has its ports");
    assertEquals(0, t.count(v4(17, A, B, 0x0010, 5000, 53), 0));
    assertEquals(0, t.count(ByteBuffer.wrap(new byte[] {0x10, 0, 0}), 0));
    assertEquals(0, t.count(ByteBuffer.allocate(0), 0));
    assertEquals(0, t.count(udp6(1, 2, 5000, 53, false).limit(30), 0), "truncated");
  }

  @Test
  void ipv6ConnectionsWalkTheExtensionHeaders() {
    FlowTable t = new FlowTable();
    assertEquals(1, t.count(udp6(1, 2, 5000, 53, false), 0));
    assertEquals(2, t.count(udp6(2, 1, 53, 5000, true), 0), "the first fragment of a reply");
    assertEquals(1, t.count(udp6(1, 3, 5000, 53, false), 0));
  }

  @Test
  void idleConnectionsStartAgainAfterTheirTimeout() {
    FlowTable t = new FlowTable();
    t.count(udp(A, B, 5000, 53), 0);
    assertEquals(2, t.count(udp(A, B, 5000, 53), 120 * SECOND));
    assertEquals(1, t.count(udp(A, B, 5000, 53), 241 * SECOND), "idle for 121 s: a new one");
    t.count(tcp(A, B, 40000, 80, 0x02), 0);
    assertEquals(2, t.count(tcp(B, A, 80, 40000, 0x12), 3600 * SECOND), "TCP lives long");
    assertEquals(3, t.count(tcp(A, B, 40000, 80, 0x11), 3601 * SECOND)); // FIN
    assertEquals(1, t.count(tcp(A, B, 40000, 80, 0x02), 3602 * SECOND), "SYN after FIN: new");
    assertEquals(2, t.count(tcp(B, A, 80, 40000, 0x12), 3602 * SECOND));
  }

  @Test
  void memoryIsBoundedByEvictingTheLeastRecentlySeen() {
    FlowTable t = new FlowTable();
    for (int i = 0; i < FlowTable.SLOTS * 2; i++) {
      t.count(udp(A, B + i, 5000, 53), i);
    }
    assertTrue(t.evictions() >= FlowTable.SLOTS, "evictions: " + t.evictions());
    int last = FlowTable.SLOTS * 2 - 1;
    assertEquals(1, t.peek(udp(A, B + last, 5000, 53), last), "the newest stays");
  }

  @Test
  void countingAllocatesNothing() {
    FlowTable t = new FlowTable();
    ByteBuffer[] packets = new ByteBuffer[64];
    for (int i = 0; i < packets.length; i++) {
      packets[i] = (i & 1) == 0 ? udp(A, B, 5000 + i, 53) : udp(B, A, 53, 5000 + i - 1);
    }
    long sum = 0;
    for (int i = 0; i < 50_000; i++) {
      sum += t.count(packets[i & 63], i);
    }
    com.sun.management.ThreadMXBean bean =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long id = Thread.currentThread().getId();
    long before = bean.getThreadAllocatedBytes(id);
    for (int i = 0; i < 100_000; i++) {
      sum += t.count(packets[i & 63], i);
    }
    assertEquals(0, bean.getThreadAllocatedBytes(id) - before);
    assertTrue(sum > 0);
  }
}
