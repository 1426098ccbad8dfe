package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import org.divert4j.DivertException;
import org.divert4j.PacketTooLargeException;
import org.divert4j.linux.Native;
import org.divert4j.packet.Ipv4View;

/**
 * The packet being sent: copied from the caller's buffer into native memory once, checked there,
 * and handed to the verdict or the raw socket from there. Not thread-safe: used under the socket's
 * send lock.
 */
final class SendBuffer {
  private final ByteBuffer scratch = Native.allocate(65536 + 64);
  private final long address = Native.address(scratch);
  private final Ipv4View view = new Ipv4View();

  /**
   * Copies a packet in and checks it (S31, S47).
   *
   * @return its length
   * @throws PacketTooLargeException above 65535 bytes
   * @throws org.divert4j.MalformedPacketException naming the defect
   */
  int load(ByteBuffer packet, int from, int len) throws DivertException {
    if (len > PacketTooLargeException.IPV4_MAX) {
      throw new PacketTooLargeException(len, PacketTooLargeException.IPV4_MAX, "", 0);
    }
    scratch.put(0, packet, from, len);
    view(len).validateForSend();
    return len;
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
