package org.divert4j.stack;

import static org.divert4j.stack.TestNet.ETH0;
import static org.divert4j.stack.TestNet.udp;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.Chain;
import org.divert4j.DivertAddress;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.MalformedPacketException;
import org.divert4j.NoRouteException;
import org.divert4j.PacketBatch;
import org.divert4j.PacketMetadata;
import org.divert4j.PacketTooLargeException;
import org.divert4j.packet.Checksums;
import org.divert4j.packet.Ipv4Builder;
import org.divert4j.packet.Ipv6Builder;
import org.junit.jupiter.api.Test;

/**
 * Sending with exact limits: the MTU (S27-S30) at the byte, the IPv4 and IPv6 maxima (S31), header
 * fix-ups (S38-S40) with fresh identifications, marks (S73), tickets that are redeemed only by the
 * socket and the packet they name, and a batch's errors and metadata.
 */
class EngineSendTest {
  private final TestNet net = new TestNet();
  private DivertEngine engine;
  private DivertHost host;
  private final ByteBuffer buf = ByteBuffer.allocate(70_000);

  private DivertSocket open(HostOptions o, String... rules) throws Exception {
    engine = net.engine(o);
    host = engine.openHost(o);
    for (String r : rules) {
      host.addRule(DivertRule.parse(r));
    }
    return host.bind(100);
  }

  private static HostOptions mode(FragmentMode m) {
    return HostOptions.builder().fragments(m).build();
  }

  /** An IPv4 UDP datagram of exactly {@code length} bytes to {@code dst}. */
  private static ByteBuffer ofLength(String dst, int length, boolean df) {
    return Ipv4Builder.udp(1, 2)
        .source("10.0.0.1")
        .destination(dst)
        .identification(77)
        .dontFragment(df)
        .payload(new byte[length - 28])
        .build();
  }

  private DivertAddress receive(DivertSocket s) throws Exception {
    buf.clear();
    DivertAddress a = s.receive(buf, Duration.ZERO);
    assertNotNull(a);
    buf.flip();
    return a;
  }

  @Test
  void perFragmentSendsUpToTheMtuAndRefusesOneByteMore() throws Exception {
    DivertSocket s = open(mode(FragmentMode.PER_FRAGMENT));
    s.send(ofLength("10.0.0.2", 1500, false), DivertAddress.OUTBOUND);
    s.send(ofLength("10.0.1.2", 1000, false), DivertAddress.OUTBOUND);
    assertEquals(2, net.wire.size());
    PacketTooLargeException x =
        assertThrows(
            PacketTooLargeException.class,
            () -> s.send(ofLength("10.0.0.2", 1501, false), DivertAddress.OUTBOUND));
    assertEquals(1500, x.mtu());
    PacketTooLargeException y =
        assertThrows(
            PacketTooLargeException.class,
            () -> s.send(ofLength("10.0.1.2", 1001, false), DivertAddress.OUTBOUND));
    assertEquals(1000, y.mtu());
    assertEquals(2, net.wire.size());
    assertEquals(2, s.stats().injected());
  }

  @Test
  void alwaysDefragmentRefusesDfOverTheMtuAndFragmentsTheRest() throws Exception {
    DivertSocket s = open(mode(FragmentMode.ALWAYS_DEFRAGMENT));
    ByteBuffer exact = ofLength("10.0.0.2", 1500, true);
    byte[] exactBytes = TestNet.copy(exact);
    s.send(exact, DivertAddress.OUTBOUND);
    assertEquals(1, net.wire.size());
    assertArrayEquals(exactBytes, net.wire.get(0).bytes(), "an MTU-sized packet goes whole");
    assertThrows(
        PacketTooLargeException.class,
        () -> s.send(ofLength("10.0.0.2", 1501, true), DivertAddress.OUTBOUND));
    assertEquals(1, net.wire.size());
    s.send(ofLength("10.0.0.2", 1501, false), DivertAddress.OUTBOUND);
    assertEquals(3, net.wire.size(), "1501 bytes: two fragments");
    for (TestNet.Sent f : net.wire.subList(1, 3)) {
      assertTrue(f.bytes().length <= 1500);
    }
  }

  @Test
  void aWriteBackOverTheMtuIsRefusedAndTheHeldPacketStaysHeld() throws Exception {
    DivertSocket s = open(mode(FragmentMode.PER_FRAGMENT), "output -p udp -j DIVERT 100");
    assertTrue(engine.originate(ofLength("10.0.0.2", 1400, false)));
    DivertAddress a = receive(s);
    assertThrows(PacketTooLargeException.class, () -> s.send(ofLength("10.0.0.2", 1501, false), a));
    assertEquals(1, s.stats().held());
    assertEquals(0, s.stats().reinjected());
    s.send(ofLength("10.0.0.2", 1500, false), a);
    assertEquals(0, s.stats().held());
    assertEquals(1, net.wire.size());
  }

  @Test
  void perFragmentOriginationFragmentsBeforeTheOutputChainUnlessDf() throws Exception {
    DivertSocket s = open(mode(FragmentMode.PER_FRAGMENT), "output -p udp -j DIVERT 100");
    ByteBuffer exact = ofLength("10.0.0.2", 1500, false);
    assertTrue(engine.originate(exact));
    receive(s);
    assertEquals(1500, buf.remaining(), "an MTU-sized datagram is not fragmented");
    s.close();
    assertTrue(engine.originate(ofLength("10.0.0.2", 3000, false)));
    assertEquals(0, net.wire.size(), "no listener: dropped, one per fragment");
    assertEquals(3, host.stats().dropped(org.divert4j.DropReason.NO_LISTENER));
    host.close();
    assertTrue(engine.originate(ofLength("10.0.0.2", 3000, false)));
    assertEquals(3, net.wire.size(), "3000 bytes: three fragments");
    assertTrue(engine.originate(ofLength("10.0.0.2", 3000, true)));
    assertEquals(3, net.wire.size(), "DF over the MTU: dropped");
    assertTrue(engine.originate(ofLength("10.0.0.2", 1500, true)));
    assertEquals(4, net.wire.size());
  }

  @Test
  void theLargestPacketsOfEachFamilyAreAcceptedAndOneByteMoreIsNot() throws Exception {
    DivertSocket s = open(mode(FragmentMode.ALWAYS_DEFRAGMENT));
    s.send(ofLength("10.0.0.2", 65535, false), DivertAddress.OUTBOUND);
    assertEquals(45, net.wire.size(), "65515 payload bytes in 1480-byte fragments");
    PacketTooLargeException x =
        assertThrows(
            PacketTooLargeException.class,
            () -> s.send(ByteBuffer.wrap(header4(65536)), DivertAddress.OUTBOUND));
    assertEquals(65535, x.mtu());
    // IPv6: 40 + 65535 is the largest; this engine has no IPv6 route
    assertThrows(NoRouteException.class, () -> s.send(ipv6OfLength(65575), DivertAddress.OUTBOUND));
    assertThrows(NoRouteException.class, () -> s.send(ipv6OfLength(65560), DivertAddress.OUTBOUND));
    PacketTooLargeException y =
        assertThrows(
            PacketTooLargeException.class,
            () -> s.send(ByteBuffer.wrap(header6(65576)), DivertAddress.OUTBOUND));
    assertEquals(65575, y.mtu());
  }

  private static byte[] header4(int length) {
    byte[] b = new byte[length];
    b[0] = 0x45;
    return b;
  }

  private static byte[] header6(int length) {
    byte[] b = new byte[length];
    b[0] = 0x60;
    return b;
  }

  private static ByteBuffer ipv6OfLength(int length) {
    return Ipv6Builder.udp(1, 2)
        .source("fd00::1")
        .destination("fd00::2")
        .payload(new byte[length - 48])
        .build();
  }

  @Test
  void malformedPacketsAreRefusedBeforeAnythingIsSent() throws Exception {
    DivertSocket s = open(HostOptions.defaults());
    ByteBuffer badIhl = ofLength("10.0.0.2", 100, false);
    badIhl.put(0, (byte) 0x44);
    assertThrows(MalformedPacketException.class, () -> s.send(badIhl, DivertAddress.OUTBOUND));
    ByteBuffer short6 = ByteBuffer.wrap(header6(30));
    assertThrows(MalformedPacketException.class, () -> s.send(short6, DivertAddress.OUTBOUND));
    assertEquals(0, net.wire.size());
    assertEquals(0, s.stats().injected());
  }

  @Test
  void headersAreFixedUpWithAFreshNonZeroIdentificationEachTime() throws Exception {
    DivertSocket s = open(HostOptions.defaults());
    for (int i = 0; i < 3; i++) {
      ByteBuffer p = ofLength("10.0.0.2", 100, false);
      p.putShort(4, (short) 0); // identification 0: the stack chooses one
      p.putShort(10, (short) 0x1234); // a wrong checksum
      s.send(p, DivertAddress.OUTBOUND);
    }
    List<Integer> ids = new ArrayList<>();
    for (TestNet.Sent w : net.wire) {
      assertTrue(Checksums.isIpv4HeaderValid(ByteBuffer.wrap(w.bytes()), 0));
      assertNotEquals(0, w.identification());
      assertTrue(!ids.contains(w.identification()), "identifications differ: " + ids);
      ids.add(w.identification());
    }
  }

  @Test
  void aWriteBackKeepsTheMarkUnlessTheProgramSetsOne() throws Exception {
    DivertSocket s = open(HostOptions.defaults(), "output -p udp -j DIVERT 100");
    assertTrue(engine.originate(udp("10.0.0.1", "10.0.0.2", 1, 10), 7));
    s.send(buf, receive(s));
    assertEquals(7, net.wire.get(0).mark());
    assertTrue(engine.originate(udp("10.0.0.1", "10.0.0.2", 2, 10), 7));
    PacketBatch batch = PacketBatch.allocate(2);
    assertEquals(1, s.receive(batch, Duration.ZERO));
    assertEquals(7, batch.mark(0));
    batch.setMark(0, 9);
    assertEquals(1, s.send(batch));
    assertEquals(9, net.wire.get(1).mark());
    s.send(udp("10.0.0.1", "10.0.0.2", 3, 10), DivertAddress.OUTBOUND);
    assertEquals(0, net.wire.get(2).mark(), "a new packet has no mark");
  }

  @Test
  void aTicketIsNotRedeemedAfterItsSlotServedAnotherPacket() throws Exception {
    DivertSocket s = open(HostOptions.defaults(), "output -p udp -j DIVERT 100");
    assertTrue(engine.originate(udp("10.0.0.1", "10.0.0.2", 1, 10)));
    DivertAddress first = receive(s);
    s.send(buf, first);
    assertTrue(engine.originate(udp("10.0.0.1", "10.0.0.2", 2, 10)));
    DivertAddress second = receive(s);
    assertNotEquals(first.ticket(), second.ticket());
    s.send(udp("10.0.0.1", "10.0.0.3", 3, 10), first); // a stale ticket: a new packet
    assertEquals(1, s.stats().held(), "the second packet is still held");
    assertEquals(1, s.stats().reinjected());
    assertEquals(1, s.stats().injected());
    s.drop(first);
    assertEquals(1, s.stats().held(), "nor dropped by it");
  }

  @Test
  void aTicketIsRedeemedOnlyByTheSocketThatIssuedIt() throws Exception {
    DivertSocket a = open(HostOptions.defaults(), "output -d 10.0.0.2 -j DIVERT 100");
    host.addRule(DivertRule.parse("output -d 10.0.0.3 -j DIVERT 200"));
    DivertSocket b = host.bind(200);
    assertTrue(engine.originate(udp("10.0.0.1", "10.0.0.2", 1, 10)));
    DivertAddress fromA = receive(a);
    assertTrue(engine.originate(udp("10.0.0.1", "10.0.0.3", 2, 10)));
    DivertAddress fromB = receive(b);
    b.send(udp("10.0.0.1", "10.0.0.3", 3, 10), fromA);
    assertEquals(1, b.stats().held(), "a's ticket does not name b's held packet");
    assertEquals(1, b.stats().injected());
    assertEquals(0, b.stats().reinjected());
    b.drop(fromA);
    assertEquals(1, b.stats().held());
    assertEquals(1, a.stats().held());
    b.drop(fromB);
    assertEquals(0, b.stats().held());
    assertEquals(1, net.wire.size());
  }

  @Test
  void aForgedTicketBeyondTheQueueIsIgnored() throws Exception {
    DivertSocket s = open(HostOptions.builder().queueLength(4).build());
    long serial = 1; // the engine's first socket
    for (int slot : new int[] {4, 5, 0xffff}) {
      DivertAddress forged =
          DivertAddress.received(
              100, Chain.OUTPUT, "", 0, 0, 1, (serial << 48) | (1L << 16) | slot);
      s.drop(forged);
    }
    assertEquals(0, s.stats().dropped(org.divert4j.DropReason.PROGRAM));
  }

  @Test
  void aClosedSocketRefusesEvenAnEmptyBatchAndADrop() throws Exception {
    DivertSocket s = open(HostOptions.defaults(), "output -p udp -j DIVERT 100");
    assertTrue(engine.originate(udp("10.0.0.1", "10.0.0.2", 1, 10)));
    DivertAddress a = receive(s);
    assertTrue(s.isOpen());
    s.close();
    assertThrows(DivertClosedException.class, () -> s.send(PacketBatch.allocate(1)));
    assertThrows(DivertClosedException.class, () -> s.drop(a));
    assertThrows(DivertClosedException.class, () -> s.send(buf, a));
  }

  @Test
  void aBatchSendClearsTheErrorOfAnEntryThatNowSucceeds() throws Exception {
    DivertSocket s = open(HostOptions.defaults());
    PacketBatch batch = PacketBatch.allocate(2);
    batch.add(udp("10.0.0.1", "10.9.9.9", 1, 10), DivertAddress.OUTBOUND);
    batch.add(udp("10.0.0.1", "10.0.0.2", 2, 10), DivertAddress.OUTBOUND);
    assertEquals(1, s.send(batch));
    assertTrue(batch.error(0) instanceof NoRouteException);
    assertNull(batch.error(1));
    batch.packet(0).putInt(16, TestNet.HOST1 + 5); // 10.0.1.6: routed now
    assertEquals(2, s.send(batch));
    assertNull(batch.error(0));
    assertEquals(3, net.wire.size());
  }

  @Test
  void aBatchReceiveFillsAddressMarkAndMetadataAndEmptiesOnTimeout() throws Exception {
    DivertSocket s = open(HostOptions.defaults(), "output -p udp -j DIVERT 100");
    host.addRule(DivertRule.parse("input -p udp -j DIVERT 100"));
    PacketBatch batch = PacketBatch.allocate(4, 1024, false);
    assertTrue(engine.originate(ofLength("10.0.0.2", 1024, false), 3)); // fills a slot exactly
    long sent = net.now;
    net.advance(Duration.ofMillis(5));
    engine.receive(udp("10.0.1.9", "10.0.1.1", 2, 10), TestNet.ETH1);
    assertEquals(2, s.receive(batch, Duration.ZERO));
    assertEquals(1024, batch.packet(0).remaining());
    assertEquals(Chain.OUTPUT, batch.chain(0));
    assertEquals(3, batch.mark(0));
    PacketMetadata m = batch.metadata();
    assertEquals(sent, m.timestamp(0));
    assertEquals(ETH0, m.outInterfaceIndex(0));
    assertEquals(Chain.INPUT, batch.chain(1));
    assertEquals(TestNet.HOST1, batch.interfaceAddressBits(1));
    assertEquals(TestNet.ETH1, batch.interfaceIndex(1));
    assertEquals(sent + 5_000_000L, m.timestamp(1));
    assertEquals(PacketMetadata.ABSENT, m.outInterfaceIndex(1));
    assertEquals(2, s.send(batch));
    assertEquals(0, s.receive(batch, Duration.ZERO));
    assertEquals(0, batch.size(), "nothing received: an empty batch");
  }

  @Test
  void anUnknownArrivalInterfaceHasNoNameNorAddress() throws Exception {
    DivertSocket s = open(HostOptions.defaults(), "input -p udp -j DIVERT 100");
    engine.receive(udp("10.0.0.9", "10.0.0.1", 1, 10), 4); // one past the largest index
    DivertAddress a = receive(s);
    assertEquals("", a.interfaceName());
    assertEquals(0, a.interfaceAddressBits());
    s.send(buf, a);
    assertEquals(1, net.local.size());
  }

  @Test
  void aRouteToAnIndexPastTheInterfacesIsNoRoute() throws Exception {
    DivertSocket s = open(HostOptions.defaults());
    net.routeOverride = 4;
    assertTrue(!engine.originate(udp("10.0.0.1", "10.0.0.2", 1, 10)));
    assertThrows(
        NoRouteException.class,
        () -> s.send(udp("10.0.0.1", "10.0.0.2", 2, 10), DivertAddress.OUTBOUND));
    engine.receive(udp("10.0.0.9", "10.0.1.9", 3, 10), ETH0); // to be forwarded: dropped
    assertEquals(0, net.wire.size());
    net.routeOverride = 3;
    engine.receive(udp("10.0.0.9", "10.0.1.9", 4, 10), ETH0);
    assertEquals(1, net.wire.size());
  }

  @Test
  void largePacketsAreQueuedAndSentAgainAndAgain() throws Exception {
    DivertSocket s = open(mode(FragmentMode.ALWAYS_DEFRAGMENT), "output -p udp -j DIVERT 100");
    for (int i = 0; i < 3; i++) {
      assertTrue(engine.originate(ofLength("10.0.0.2", 3000, false)));
    }
    for (int i = 0; i < 3; i++) {
      DivertAddress a = receive(s);
      assertEquals(3000, buf.remaining());
      s.send(buf, a);
    }
    for (int i = 0; i < 2; i++) {
      s.send(ofLength("10.0.0.2", 3000, false), DivertAddress.OUTBOUND);
    }
    assertEquals(15, net.wire.size(), "five datagrams of three fragments");
  }

  @Test
  void aLongQueueReceivesPastItsPoolsSize() throws Exception {
    DivertSocket s = open(HostOptions.builder().queueLength(4100).build(), "output -j DIVERT 100");
    for (int i = 0; i < 4100; i++) {
      assertTrue(engine.originate(udp("10.0.0.1", "10.0.0.2", i, 10)));
    }
    PacketBatch batch = PacketBatch.allocate(1000);
    int got = 0;
    while (got < 4100) {
      int n = s.receive(batch, Duration.ZERO);
      assertTrue(n > 0);
      got += n;
    }
    assertEquals(4100, s.stats().held());
    s.close();
    assertEquals(4100, s.stats().dropped(org.divert4j.DropReason.CLOSED));
  }
}
