package org.divert4j.filter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import org.divert4j.Direction;
import org.junit.jupiter.api.Test;

/** {@code flow.Packets} (S68): its value, its absence, and the split for connbytes. */
class FlowFieldTest {
  private static final byte[] HELLO = {1, 2, 3};

  @Test
  void theCountComesFromTheContextAndIsMissingWhenUnknown() {
    Filter first6 = Filter.parse("flow.Packets <= 6");
    Filter notMore = Filter.parse("not flow.Packets > 6");
    ByteBuffer p = Packets.udp4(1000, 53, HELLO);
    FilterContext c = new FilterContext().set(Direction.INBOUND, false, 2);
    assertEquals(0, c.flowPackets());
    assertFalse(first6.matches(p, c), "unknown count: the comparison is false (S65)");
    assertTrue(notMore.matches(p, c), "unknown count: its negation is true (S65)");
    assertTrue(first6.matches(p, c.flowPackets(1)));
    assertTrue(first6.matches(p, c.flowPackets(6)));
    assertFalse(first6.matches(p, c.flowPackets(7)));
    assertFalse(notMore.matches(p, c));
    assertFalse(first6.matches(p, c.set(Direction.INBOUND, false, 2)), "set() forgets the count");
    assertFalse(first6.matches(p, c.flowPackets(-5)), "a negative count is unknown");
    assertEquals(0, c.flowPackets());
    assertTrue(Filter.parse("flow.Packets").matches(p, c.flowPackets(1)));
    assertTrue(Filter.parse("flow.Packets == 4294967296").matches(p, c.flowPackets(1L << 32)));
  }

  @Test
  void aLaterFragmentHasNoCount() {
    ByteBuffer later =
        Packets.ipv4(Packets.UDP, "10.0.0.1", "10.0.0.2", 0x0010, new byte[] {1, 2, 3, 4});
    FilterContext c = new FilterContext().flowPackets(2);
    assertFalse(Filter.parse("flow.Packets >= 1").matches(later, c));
    assertTrue(Filter.parse("not flow.Packets >= 1").matches(later, c));
    ByteBuffer first =
        Packets.ipv4(Packets.UDP, "10.0.0.1", "10.0.0.2", 0x2000, new byte[] {1, 2, 3, 4});
    assertTrue(Filter.parse("flow.Packets >= 1").matches(first, c));
  }

  @Test
  void filtersTellWhetherTheyUseTheCount() {
    assertTrue(Filter.parse("tcp and (udp or flow.Packets < 3)").usesFlow());
    assertTrue(Filter.parse("tcp ? true : not flow.Packets").usesFlow());
    assertFalse(Filter.parse("tcp.DstPort == 443").usesFlow());
    assertEquals("flow.Packets <= 6", Filter.parse("flow.Packets<=6").toString());
  }

  @Test
  void evaluationWithACountAllocatesNothing() {
    assumeTrue(Alloc.SUPPORTED);
    Filter f = Filter.parse("udp and flow.Packets <= 6");
    ByteBuffer p = Packets.udp4(1000, 53, HELLO);
    FilterContext c = new FilterContext();
    int hits = 0;
    for (int i = 0; i < 20_000; i++) {
      hits += f.matches(p, c.set(Direction.INBOUND, false, 1).flowPackets(i & 15)) ? 1 : 0;
    }
    long before = Alloc.bytes();
    for (int i = 0; i < 100_000; i++) {
      hits += f.matches(p, c.set(Direction.INBOUND, false, 1).flowPackets(i & 15)) ? 1 : 0;
    }
    assertEquals(0, Alloc.bytes() - before);
    assertTrue(hits > 0);
  }

  @Test
  void theCountSplitsOffAsARangeWhereItIsATopLevelTerm() {
    FlowRange r = FlowRange.split(Filter.parse("udp and flow.Packets <= 6"));
    assertEquals("udp", r.rest().toString());
    assertEquals(1, r.min());
    assertEquals(6, r.max());
    r = FlowRange.split(Filter.parse("flow.Packets > 2 and tcp and 10 > flow.Packets and ip"));
    assertEquals("tcp and ip", r.rest().toString());
    assertEquals(3, r.min());
    assertEquals(9, r.max());
    r = FlowRange.split(Filter.parse("not flow.Packets <= 6"));
    assertNull(r.rest());
    assertEquals(7, r.min());
    assertEquals(Long.MAX_VALUE, r.max());
    r = FlowRange.split(Filter.parse("not not flow.Packets == 3"));
    assertEquals(3, r.min());
    assertEquals(3, r.max());
    r = FlowRange.split(Filter.parse("flow.Packets and flow.Packets >= -4"));
    assertEquals(1, r.min());
    assertEquals(Long.MAX_VALUE, r.max());
  }

  @Test
  void whatConnbytesCannotHoldIsRefusedWithTheReason() {
    assertRefused("udp or flow.Packets <= 6", "joined with other tests by 'or'");
    assertRefused("flow.Packets != 3", "'!=' (or a negated '==') is two ranges");
    assertRefused("not flow.Packets == 3", "'!=' (or a negated '==') is two ranges");
    assertRefused("flow.Packets <= ip.TTL", "compared with something other than a number");
    assertRefused("flow.Packets == 10.0.0.1", "compared with something other than a number");
    assertRefused("flow.Packets > 5 and flow.Packets < 3", "admit no count");
    assertRefused("flow.Packets < 1", "admit no count");
    assertThrows(IllegalArgumentException.class, () -> FlowRange.split(Filter.parse("udp")));
  }

  @Test
  void bpfRefusesTheCount() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                ClassicBpf.compileIpv4(
                    Filter.parse("udp and flow.Packets <= 6"),
                    Direction.INBOUND,
                    ClassicBpf.XT_BPF_MAX_NUM_INSTR));
    assertTrue(e.getMessage().contains("flow.Packets"), e.getMessage());
  }

  private static void assertRefused(String filter, String why) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> FlowRange.split(Filter.parse(filter)));
    assertTrue(e.getMessage().contains(why), e.getMessage());
  }
}
