package org.divert4j.packet;

import java.nio.ByteBuffer;
import java.util.Objects;
import org.divert4j.MalformedPacketException;

/**
 * What {@link Ipv4View} and {@link Ipv6View} share: the wrapped bounds, the version nibble, the
 * transport ports, and turning a {@link Defect} into a {@link MalformedPacketException}. Package
 * private so that the two views stay the only public types; their public methods declared here are
 * part of each view's API and are documented there as their own.
 *
 * <p>The abstract calls ({@link #transportOffset}, {@link #check()}, {@link #checkForSend()},
 * {@link #detail}) have two implementations, both in final classes. The one on a per-packet path is
 * {@code checkForSend()} under {@link #validateForSend()}, which the send paths call on a variable
 * declared {@code Ipv4View} or {@code Ipv6View}: once the JIT inlines {@code validateForSend}
 * there, the receiver's exact type is known and the call binds statically; where it does not
 * inline, the call site sees at most two types, which HotSpot inlines behind one type check. Rule
 * matching does not use views at all ({@link Ipv6HeaderChain} is static).
 */
abstract class IpView {
  ByteBuffer buf;
  int base;
  int length;

  IpView() {}

  /**
   * Points the view at {@code length} bytes of {@code buf} from index {@code offset}.
   *
   * @throws IndexOutOfBoundsException if the range does not lie within {@code 0..buf.limit()}
   */
  final void bind(ByteBuffer buf, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, buf.limit());
    this.buf = buf;
    this.base = offset;
    this.length = length;
  }

  /**
   * @return the wrapped buffer, or null before the first {@code wrap}
   */
  public final ByteBuffer buffer() {
    return buf;
  }

  /**
   * @return the index of the first header byte in {@link #buffer()}
   */
  public final int offset() {
    return base;
  }

  /**
   * @return the number of bytes wrapped (present), which may exceed what the header's length field
   *     says (trailing link padding)
   */
  public final int length() {
    return length;
  }

  /**
   * @return the version field (4 for IPv4, 6 for IPv6)
   */
  public final int version() {
    return Bytes.u8(buf, base) >>> 4;
  }

  /**
   * The transport source port of a TCP, UDP, UDP-Lite, SCTP or DCCP packet.
   *
   * @return the port, or -1 when the protocol has no ports, the packet is a non-first fragment
   *     (ports are only in the first, SEMANTICS.md S7, S56), an IPv6 header chain runs past the
   *     end, or fewer than 4 transport bytes are present
   */
  public final int sourcePort() {
    int at = transportOffset(4, true);
    return at < 0 ? -1 : Bytes.u16(buf, at);
  }

  /**
   * The transport destination port of a TCP, UDP, UDP-Lite, SCTP or DCCP packet.
   *
   * @return the port, or -1 when absent (see {@link #sourcePort()})
   */
  public final int destinationPort() {
    int at = transportOffset(4, true);
    return at < 0 ? -1 : Bytes.u16(buf, at + 2);
  }

  /** The ICMP (or ICMPv6) byte at {@code index} (0: type, 1: code), or -1 when absent. */
  final int icmpByte(int index) {
    int at = transportOffset(index + 1, false);
    return at < 0 ? -1 : Bytes.u8(buf, at + index);
  }

  /**
   * Where the transport header starts, if {@code need} of its bytes are present in a first fragment
   * (or whole datagram) whose protocol has ports ({@code ports}) or is this family's ICMP; -1
   * otherwise.
   */
  abstract int transportOffset(int need, boolean ports);

  /** True for the protocols whose first four bytes are the source and destination ports. */
  static boolean hasPorts(int protocol) {
    return protocol == Ipv4View.PROTOCOL_TCP
        || protocol == Ipv4View.PROTOCOL_UDP
        || protocol == Ipv4View.PROTOCOL_UDPLITE
        || protocol == Ipv4View.PROTOCOL_SCTP
        || protocol == Ipv4View.PROTOCOL_DCCP;
  }

  /**
   * Checks the packet as received.
   *
   * @return null if the packet is well-formed, else the first defect found
   */
  public abstract Defect check();

  /**
   * Checks the packet as it is about to be sent.
   *
   * @return null if the packet may be sent, else the first defect found
   */
  public abstract Defect checkForSend();

  /** The values behind a defect, for the exception message; allocation is fine on this path. */
  abstract String detail(Defect d, boolean send);

  /**
   * {@link #check()} as an exception.
   *
   * @throws MalformedPacketException naming the defect and the values that show it
   */
  public final void validate() throws MalformedPacketException {
    Defect d = check();
    if (d != null) {
      throw new MalformedPacketException(d, detail(d, false));
    }
  }

  /**
   * {@link #checkForSend()} as an exception.
   *
   * @throws MalformedPacketException naming the defect and the values that show it
   */
  public final void validateForSend() throws MalformedPacketException {
    Defect d = checkForSend();
    if (d != null) {
      throw new MalformedPacketException(d, detail(d, true));
    }
  }

  static void checkRange(String what, int value, int max) {
    if (value < 0 || value > max) {
      throw new IllegalArgumentException(what + " must be 0.." + max + ": " + value);
    }
  }
}
