package org.divert4j.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Area B of SEMANTICS.md, the socket's queue: it is bounded and counts what it drops, or with
 * fail-open lets it through (S15), and a single reader gets one port's packets in arrival order
 * (S52). The packet a queue delivers is {@link DeliveryVerification}'s. Runs once per address
 * family (SEMANTICS.md K: S63 keeps S15).
 */
@SpecArea(id = "B", title = "Delivery")
public class QueueVerification extends FamilyVerification {
  /** For the JUnit engine and subclasses. */
  public QueueVerification() {}

  /**
   * <b>S15</b>: a socket's queue is bounded. With queue length 2 and a program that does not read,
   * of five datagrams two are queued and three are dropped and counted as {@code QUEUE_FULL}; none
   * reaches the endpoint (fail-closed is the default).
   *
   * <p>If it fails: check the queue limit (NFQUEUE maxlen), that overflow drops rather than
   * accepts, and that the per-socket counter counts each drop.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S15")
  public void S15_fullQueueDropsAndCountsFurtherPackets(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(hostOptions(host().queueLength(2).build()));
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp --dport 7000")) {
        peerSends(p, 5, 100);
        bed.advance(p.settle);
        p.receiveExactly(socket, 2, "queued datagram");
        p.expectNoDatagram(endpoint, "overflow is dropped unless failOpen");
        assertEquals(
            3,
            socket.stats().dropped(DropReason.QUEUE_FULL),
            "queue-full drops must be counted: " + socket.stats());
      }
    }
  }

  /**
   * <b>S15</b>: with {@code failOpen}, packets that find the queue full continue as if not
   * diverted, and are counted. Queue length 2, five datagrams: two are queued for the program and
   * three reach the host's endpoint; {@code failOpenAccepted} is 3.
   *
   * <p>If it fails: the fail-open flag (NFQA_CFG_F_FAIL_OPEN) is not set or not honoured, or
   * accepted packets are not counted.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S15")
  public void S15_failOpenAcceptsAndCountsPacketsWhenTheQueueIsFull(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed(hostOptions(host().queueLength(2).failOpen(true).build()));
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp --dport 7000")) {
        peerSends(p, 5, 100);
        for (int i = 0; i < 3; i++) {
          p.datagram(endpoint, "datagram " + (i + 1) + " of 3 accepted by fail-open");
        }
        p.expectNoDatagram(endpoint, "two datagrams are queued for the program");
        p.receiveExactly(socket, 2, "queued datagram");
        assertEquals(
            3,
            socket.stats().failOpenAccepted(),
            "fail-open accepts are counted: " + socket.stats());
      }
    }
  }

  /**
   * <b>S15</b>: memory stays bounded whatever the offered load. Two hundred datagrams at a socket
   * with queue length 8 that does not read: the program can then read exactly 8, and 192 are
   * counted as dropped.
   *
   * <p>If it fails: the backend queues without bound somewhere (a user-space list in front of the
   * kernel queue, a growing netlink buffer).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S15")
  public void S15_queueStaysBoundedUnderLoad(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(hostOptions(host().queueLength(8).build()))) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp --dport 7000")) {
        peerSends(p, 200, 64);
        bed.advance(p.settle);
        // Real backends hand packets over asynchronously (pcap's capture thread reads blocks
        // of frames): give the last ones up to 20 more settle times to be counted, before the
        // drain makes room in the queue for them. A packet counted nowhere still fails.
        for (int i = 0; i < 20 && socket.stats().dropped(DropReason.QUEUE_FULL) < 192; i++) {
          bed.advance(p.settle);
        }
        List<Received> got = p.drain(socket);
        assertEquals(8, got.size(), "the queue holds 8 packets at most");
        assertEquals(
            192,
            socket.stats().dropped(DropReason.QUEUE_FULL),
            "every packet beyond the queue is counted: " + socket.stats());
      }
    }
  }

  /**
   * <b>S52</b> (SHOULD): packets of one port and direction are received in arrival order by a
   * single reader. Thirty numbered datagrams from the peer, and thirty from the host, arrive in the
   * order sent.
   *
   * <p>If it is not met: the backend spreads one port over several queues or threads without
   * keeping order; WinDivert documents such reordering.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S52", level = Level.SHOULD)
  public void S52_singleReaderReceivesInArrivalOrder(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      bed.host().addRule(rule("input -p udp --dport 7000 -j DIVERT " + PORT));
      bed.host().addRule(rule("output -p udp --dport 7000 -j DIVERT " + PORT2));
      try (DivertSocket in = bed.host().bind(PORT);
          DivertSocket out = bed.host().bind(PORT2)) {
        for (int i = 0; i < 30; i++) {
          bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, Deliveries.numbered(i));
          bed.hostNode().sendUdp(p.peer(), SRC_PORT, UDP_PORT, Deliveries.numbered(i));
        }
        Deliveries.assertInOrder(p, in, "inbound");
        Deliveries.assertInOrder(p, out, "outbound");
      }
    }
  }
}
