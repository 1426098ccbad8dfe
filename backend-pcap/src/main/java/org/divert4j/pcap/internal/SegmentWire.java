package org.divert4j.pcap.internal;

import static org.divert4j.pcap.internal.InlineSegment.INSIDE;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.divert4j.DivertException;
import org.divert4j.linux.NetDevices;
import org.divert4j.packet.FragmentSink;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv6Fragmenter;

/**
 * The last step of an {@link InlineSegment}'s path: frames onto either interface through its
 * capture handle ({@link CaptureHandle#send}, {@code pcap_sendpacket}). An IP packet gets a link
 * header from {@link LinkLayer}; a frame passed untouched is copied as it came; a packet delivered
 * inbound that is larger than the inside MTU is cut into fragments first (inbound injection has no
 * MTU limit, S53, but the wire to the host has). Counts into the segment's {@link SegmentLedger}.
 *
 * <p>Used inside the engine's section only. Allocates nothing per packet.
 */
final class SegmentWire {
  private final SegmentCapture capture;
  private final LinkLayer l2;
  private final NetDevices.Link inside;
  private final SegmentLedger ledger;
  private final Ipv6Fragmenter insideFragmenter6 = new Ipv6Fragmenter();
  private int fragmentId6;
  private final Fragmenter insideFragmenter = new Fragmenter();
  private final FragmentSink toInside = f -> sendIp(INSIDE, f, LinkLayer.INBOUND);
  private boolean closed;

  /**
   * @param capture the segment's capture, whose handles send
   * @param l2 the link layer that writes headers
   * @param inside the inside interface, whose MTU packets delivered inbound must fit
   * @param ledger where to count
   * @param fragmentId6 the Identification before the first of the segment's own IPv6 fragments
   */
  SegmentWire(
      SegmentCapture capture,
      LinkLayer l2,
      NetDevices.Link inside,
      SegmentLedger ledger,
      int fragmentId6) {
    this.capture = capture;
    this.l2 = l2;
    this.inside = inside;
    this.ledger = ledger;
    this.fragmentId6 = fragmentId6;
  }

  /** After this, nothing is sent. */
  void close() {
    closed = true;
  }

  /**
   * Sends an IP packet toward the host, fragmented to the inside MTU if it is larger (an IPv4
   * packet with DF that is larger is dropped and counted).
   */
  void deliverInside(ByteBuffer packet) {
    int mtu = inside.mtu();
    if (packet.remaining() <= mtu) {
      sendIp(INSIDE, packet, LinkLayer.INBOUND);
      return;
    }
    if ((packet.get(packet.position()) & 0xf0) == 0x60) {
      deliverLarge6(packet, mtu);
      return;
    }
    if ((packet.get(packet.position() + 6) & 0x40) != 0) {
      ledger.oversizeDrops++; // DF and larger than the wire to the host: cannot be delivered
      return;
    }
    try {
      insideFragmenter.fragment(packet, mtu, toInside);
    } catch (DivertException e) {
      ledger.oversizeDrops++;
    }
  }

  /**
   * An IPv6 packet larger than the wire to the host (injected inbound, S53, or reassembled): cut
   * into fragments with an Identification of the segment's own, as the sending host would have.
   */
  private void deliverLarge6(ByteBuffer packet, int mtu) {
    if (++fragmentId6 == 0) {
      fragmentId6 = 1;
    }
    try {
      insideFragmenter6.fragment(packet, mtu, fragmentId6, toInside);
    } catch (DivertException e) {
      ledger.oversizeDrops++; // already a fragment, or no room for the unfragmentable part
    }
  }

  /** Copies a frame as it came onto one side. */
  void passUntouched(int toSide, ByteBuffer b, int offset, int length) {
    if (closed) {
      return;
    }
    CaptureHandle h = capture.handle(toSide);
    ByteBuffer f = h.sendBuffer();
    f.put(0, b, offset, length);
    try {
      h.send(length);
      ledger.passedUntouched++;
    } catch (IOException e) {
      ledger.sendErrors[toSide]++;
      ledger.lastError = e.getMessage();
    }
  }

  /** Sends an IP packet onto one side behind a link header built for it. */
  void sendIp(int side, ByteBuffer p, int direction) {
    if (closed) {
      return;
    }
    CaptureHandle h = capture.handle(side);
    ByteBuffer f = h.sendBuffer();
    int pos = p.position();
    int len = p.remaining();
    int hl = l2.writeHeader(f, 0, p, pos, direction);
    f.put(hl, p, pos, len);
    try {
      h.send(hl + len);
      ledger.sent[side]++;
    } catch (IOException e) {
      ledger.sendErrors[side]++;
      ledger.lastError = e.getMessage();
    }
  }
}
