package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;
import org.divert4j.Capability;
import org.divert4j.DivertAddress;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.InstalledRule;
import org.divert4j.SnifferWriteBackException;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/** Area O of SEMANTICS.md: sniffer sockets (S71, S72), for backends that declare SNIFF. */
@SpecArea(id = "O", title = "Sniffing")
public class SniffVerification extends TckVerification {
  /** For the JUnit engine and subclasses. */
  public SniffVerification() {}

  /**
   * <b>S71</b>: a stopped sniffer adds no loss, and drops nothing but its own copies, counted. With
   * queue length 8 and a sniffer on "input UDP to 7000" that does not read, the peer sends 40
   * datagrams: all 40 reach the host's endpoint, each once, without the program doing anything. The
   * sniffer then holds at most 8 copies; after one more datagram (which also arrives, and whose
   * copy the sniffer receives), the copies received plus those counted as {@link
   * DropReason#QUEUE_FULL} on the sniffer are exactly the 41 datagrams sent.
   *
   * <p>If it fails: datagrams missing at the endpoint mean the packet waited for the sniffer (an
   * NFQUEUE jump instead of NFLOG, or a full queue dropping the packet instead of its copy); a sum
   * that is short means lost copies are not counted (on Linux: gaps in NFULA_SEQ, or ENOBUFS on the
   * netlink socket).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S71", capabilities = Capability.SNIFF)
  public void S71_aStoppedSnifferAddsNoLossAndCountsOnlyItsOwnLostCopies(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed(hostOptions(host().queueLength(8).build()));
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      try (DivertSocket sniffer = bed.host().bindSniffer(PORT)) {
        assertTrue(sniffer.isSniffer(), "bindSniffer returns a sniffer");
        peerSends(bed, 40, 64);
        for (int i = 0; i < 40; i++) {
          p.datagram(endpoint, pattern(64, i), "datagram " + i + " of 40, past the sniffer");
        }
        p.expectNoDatagram(endpoint, "each datagram arrives once");
        List<Received> got = p.drain(sniffer);
        assertTrue(!got.isEmpty(), "a stopped sniffer's queue keeps copies up to its size");
        byte[] last = pattern(64, 99);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, last);
        p.datagram(endpoint, last, "the datagram after the drain");
        Received copy = p.receive(sniffer, "the copy of the datagram after the drain");
        assertArrayEquals(last, Packets.udpData(copy.bytes()), "the copy is the datagram");
        long dropped = sniffer.stats().dropped(DropReason.QUEUE_FULL);
        assertTrue(
            dropped > 0,
            "a queue of 8 cannot hold 40 copies: some are lost and counted, "
                + got.size()
                + " received: "
                + sniffer.stats());
        assertEquals(
            41,
            got.size() + 1 + dropped,
            "every copy is received or counted as the sniffer's own drop: " + sniffer.stats());
      }
    }
  }

  /**
   * <b>S71</b>: the packet continues at once and the sniffer gets a copy; a sniffer cannot write
   * packets back (refused as "sniffer") but may inject new ones (S42). One datagram from the peer
   * reaches the host's endpoint while the sniffer has not even read its copy; the copy carries the
   * datagram's payload; writing the copy back with its address throws {@link
   * SnifferWriteBackException}, whose message says "sniffer", and nothing arrives a second time;
   * the same bytes injected inbound as a new packet arrive.
   *
   * <p>If it fails: a datagram that does not arrive means the packet is held for the sniffer; a
   * write-back that succeeds means the backend treats the sniffer as a diverting socket.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S71", capabilities = Capability.SNIFF)
  public void S71_snifferGetsACopyCannotWriteBackAndMayInject(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      try (DivertSocket sniffer = bed.host().bindSniffer(PORT)) {
        byte[] data = pattern(100, 71);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, data);
        p.datagram(endpoint, data, "the datagram, before the sniffer reads its copy");
        Received copy = p.receive(sniffer, "the sniffer's copy");
        assertArrayEquals(data, Packets.udpData(copy.bytes()), "the copy is the datagram");
        SnifferWriteBackException e =
            assertThrows(
                SnifferWriteBackException.class,
                () -> p.writeBack(sniffer, copy),
                "a sniffer cannot write a packet back");
        assertTrue(e.getMessage().contains("sniffer"), "refused as sniffer: " + e.getMessage());
        p.expectNoDatagram(endpoint, "the refused write-back sends nothing");
        byte[] injected = pattern(100, 72);
        sniffer.send(
            ByteBuffer.wrap(Packets.udp(p.peer(), p.host(), SRC_PORT, UDP_PORT, injected).build()),
            DivertAddress.inbound(p.host()));
        p.datagram(endpoint, injected, "the packet the sniffer injected (S42)");
      }
    }
  }

  /**
   * <b>S72</b>: a sniffer's rule and a diverting rule in one chain. With "input UDP to 7000 to
   * 4100" (sniffer) then "input UDP to 4200" (diverting socket): the sniffer receives a copy from
   * its rule; the packet is still diverted to 4200 by the later rule (S44) and does not reach the
   * endpoint until written back; written back, it arrives once, and the sniffer sees no second copy
   * (the write-back resumes after the diverting rule).
   *
   * <p>If it fails: nothing at 4200 means the copy rule ended the packet's way through the chain
   * (an NFLOG line followed by an ACCEPT, or a backend that treats the copy as a verdict); a second
   * copy means the write-back restarted the chain.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S72", capabilities = Capability.SNIFF)
  public void S72_aPacketCopiedByASnifferIsStillDivertedByALaterRule(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      InstalledRule later = bed.host().addRule(rule("input -p udp -j DIVERT " + PORT2));
      try (DivertSocket sniffer = bed.host().bindSniffer(PORT);
          DivertSocket diverting = bed.host().bind(PORT2)) {
        byte[] data = pattern(100, 73);
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, data);
        Received copy = p.receive(sniffer, "the sniffer's copy");
        assertArrayEquals(data, Packets.udpData(copy.bytes()), "the copy is the datagram");
        Received r = p.receive(diverting, "the datagram at the later diverting rule");
        assertEquals(later.id(), r.address().ruleId(), "diverted by the later rule: " + r);
        p.expectNoDatagram(endpoint, "the datagram is held by the diverting socket");
        p.writeBack(diverting, r);
        p.datagram(endpoint, data, "the written-back datagram");
        p.expectNothing(sniffer, "the write-back resumes after the diverting rule");
        p.expectNoDatagram(endpoint, "the datagram arrives once");
      }
    }
  }
}
