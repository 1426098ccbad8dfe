package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import org.divert4j.DivertException;
import org.divert4j.PacketTooLargeException;
import org.divert4j.linux.Native;
import org.divert4j.packet.Ipv4View;
import org.divert4j.packet.Ipv6View;

/**
 * The packet being sent: copied from the caller's buffer into native memory once, checked there,
 * and handed to the verdict or the raw socket from there. Not thread-safe: used under the socket's
 * send lock.
 */
final class SendBuffer {
  private final ByteBuffer scratch = Native.allocate(65536 + 64);
  private final long address = Native.address(scratch);
  private final Ipv4View view = new Ipv4View();
  private final Ipv6View view6 = new Ipv6View();
  private boolean six;

  /** The longest IPv6 packet without a Jumbo Payload option: 40 + 65535 bytes (S59, S31). */
  static final int IPV6_MAX = Ipv6View.HEADER_LENGTH + Ipv6View.MAX_PAYLOAD_LENGTH;

  /**
   * Copies a packet in and checks it (S31, S47; for IPv6, by its version nibble, S59 and S62:
   * longer than 40 + 65535 bytes is too large, a jumbogram and the other defects are malformed).
   *
   * @return its length
   * @throws PacketTooLargeException above 65535 bytes (IPv6: 65575)
   * @throws org.divert4j.MalformedPacketException naming the defect
   */
  int load(ByteBuffer packet, int from, int len) throws DivertException {
    six = len > 0 && (packet.get(from) & 0xf0) == 0x60;
    int max = six ? IPV6_MAX : PacketTooLargeException.IPV4_MAX;
    if (len > max) {
      throw new PacketTooLargeException(
          len, max, six ? "IPv6 maximum: 40 + 65535 bytes, jumbograms are refused" : "", 0);
    }
    scratch.put(0, packet, from, len);
    if (six) {
      view6(len).validateForSend();
    } else {
      view(len).validateForSend();
    }
    return len;
  }

  /**
   * @return whether the loaded packet is IPv6 (version nibble 6)
   */
  boolean isIpv6() {
    return six;
  }

  /**
   * @param len the packet's length
   * @return the IPv6 view, wrapped on the packet
   */
  Ipv6View view6(int len) {
    return view6.wrap(scratch, 0, len);
  }

  /**
   * @return the buffer; the packet starts at index 0
   */
  ByteBuffer buffer() {
    return scratch;
  }

  /**
   * @return the native address of index 0
   */
  long address() {
    return address;
  }

  /**
   * @param len the packet's length
   * @return the view, wrapped on the packet
   */
  Ipv4View view(int len) {
    return view.wrap(scratch, 0, len);
  }
}
