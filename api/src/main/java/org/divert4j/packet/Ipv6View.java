package org.divert4j.packet;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;

/**
 * A reusable flyweight over an IPv6 packet in a {@link ByteBuffer} (RFC 8200): reads and writes
 * header fields in place, in network byte order, and walks the extension headers to the upper layer
 * without copying or allocating (SEMANTICS.md S55, S56, S62).
 *
 * <p><b>Buffers.</b> As {@link Ipv4View}: {@link #wrap(ByteBuffer)} takes the packet from the
 * buffer's position to its limit, access is absolute, the buffer's position, limit and byte order
 * are never changed, and the caller keeps ownership of the bytes.
 *
 * <p><b>The walk.</b> The extension-header accessors ({@link #upperLayerProtocol()}, {@link
 * #fragmentOffset()}, ...) follow the Next Header chain through hop-by-hop (0), routing (43),
 * destination options (60) and fragment (44) headers and stop at any other value: an upper layer,
 * 59 (No Next Header), or a header this walk does not know. In a non-first fragment (offset not 0)
 * it stops after the Fragment header, whose Next Header is then the upper-layer protocol: the bytes
 * after it belong to the middle of the datagram (S56, S7). The walk reads the datagram up to the
 * smaller of {@code 40 + payloadLength()} and the bytes present, so trailing link padding is never
 * read as a header. It runs once per {@link #wrap} and again after a setter here changes the
 * payload length or the next header; a caller that changes header bytes by other means must wrap
 * again. It allocates nothing.
 *
 * <p><b>Validation.</b> Accessors do not validate: call {@link #check()} (receive side) or {@link
 * #checkForSend()} (send side: the payload length field is ignored, S61) first.
 *
 * <p><b>Threads.</b> Not thread-safe: use one view per thread. No method blocks.
 */
public final class Ipv6View extends IpView {
  /** The length of the fixed IPv6 header. */
  public static final int HEADER_LENGTH = 40;

  /** The largest payload length field; larger payloads need a jumbogram (RFC 2675). */
  public static final int MAX_PAYLOAD_LENGTH = 65535;

  /** Next Header value of the Hop-by-Hop Options header. */
  public static final int NEXT_HOP_BY_HOP = 0;

  /** Next Header value of the Routing header. */
  public static final int NEXT_ROUTING = 43;

  /** Next Header value of the Fragment header. */
  public static final int NEXT_FRAGMENT = 44;

  /** Next Header value that says nothing follows. */
  public static final int NEXT_NONE = 59;

  /** Next Header value of the Destination Options header. */
  public static final int NEXT_DESTINATION_OPTIONS = 60;

  /** Next Header value of ICMPv6. */
  public static final int PROTOCOL_ICMPV6 = 58;

  /** The length of the Fragment header. */
  public static final int FRAGMENT_HEADER_LENGTH = 8;

  /** The option type of the Jumbo Payload option (RFC 2675), in a hop-by-hop header. */
  public static final int OPTION_JUMBO_PAYLOAD = 0xC2;

  private long walk;
  private int walkEnd = -1;

  /** Creates an empty view; call {@link #wrap} before anything else. */
  public Ipv6View() {}

  /**
   * Points this view at the packet from {@code buf.position()} to {@code buf.limit()}.
   *
   * @param buf the buffer holding the packet; kept by reference, not copied
   * @return this view
   */
  public Ipv6View wrap(ByteBuffer buf) {
    return wrap(buf, buf.position(), buf.remaining());
  }

  /**
   * Points this view at {@code length} bytes of {@code buf} starting at index {@code offset}.
   *
   * @param buf the buffer holding the packet; kept by reference, not copied
   * @param offset index of the first byte of the IPv6 header
   * @param length number of bytes that belong to the packet (the bytes present)
   * @return this view
   * @throws IndexOutOfBoundsException if the range does not lie within {@code 0..buf.limit()}
   */
  public Ipv6View wrap(ByteBuffer buf, int offset, int length) {
    bind(buf, offset, length);
    this.walkEnd = -1;
    return this;
  }

  // ---------------------------------------------------------------------------- fixed header

  /**
   * @return the traffic class byte (DSCP and ECN)
   */
  public int trafficClass() {
    return (Bytes.u16(buf, base) >>> 4) & 0xff;
  }

  /**
   * @return the 20-bit flow label
   */
  public int flowLabel() {
    return Bytes.i32(buf, base) & 0xfffff;
  }

  /**
   * @return the payload length field, 0..65535: the bytes after the fixed header
   */
  public int payloadLength() {
    return Bytes.u16(buf, base + 4);
  }

  /**
   * @return the Next Header field of the fixed header
   */
  public int nextHeader() {
    return Bytes.u8(buf, base + 6);
  }

  /**
   * @return the hop limit
   */
  public int hopLimit() {
    return Bytes.u8(buf, base + 7);
  }

  /**
   * Copies the 16-byte source address.
   *
   * @param dst receives the address
   * @param at index in {@code dst} of the first byte
   * @throws IndexOutOfBoundsException if {@code dst} has fewer than 16 bytes from {@code at}
   */
  public void source(byte[] dst, int at) {
    buf.get(base + 8, dst, at, 16);
  }

  /**
   * Copies the 16-byte destination address.
   *
   * @param dst receives the address
   * @param at index in {@code dst} of the first byte
   * @throws IndexOutOfBoundsException if {@code dst} has fewer than 16 bytes from {@code at}
   */
  public void destination(byte[] dst, int at) {
    buf.get(base + 24, dst, at, 16);
  }

  /**
   * @return the source address; allocates (use {@link #source(byte[], int)} on hot paths). An
   *     IPv4-mapped address comes back as an {@link java.net.Inet4Address}, as {@link
   *     InetAddress#getByAddress(byte[])} makes it.
   */
  public InetAddress sourceAddress() {
    return address(base + 8);
  }

  /**
   * @return the destination address; allocates (see {@link #sourceAddress()})
   */
  public InetAddress destinationAddress() {
    return address(base + 24);
  }

  private InetAddress address(int at) {
    byte[] a = new byte[16];
    buf.get(at, a);
    try {
      return InetAddress.getByAddress(a);
    } catch (UnknownHostException e) {
      throw new AssertionError("16 bytes are always an address", e);
    }
  }

  // ---------------------------------------------------------------------------------- setters
  // Setters change one field and nothing else. IPv6 has no header checksum; transport checksums
  // cover the addresses (pseudo-header), so change them and then call Checksums.fillTransport6.

  /**
   * @param trafficClass 0..255
   * @return this view
   * @throws IllegalArgumentException if out of range
   */
  public Ipv6View setTrafficClass(int trafficClass) {
    checkRange("traffic class", trafficClass, 0xff);
    int w = Bytes.i32(buf, base);
    Bytes.put32(buf, base, (w & 0xf00fffff) | trafficClass << 20);
    return this;
  }

  /**
   * @param flowLabel 0..0xFFFFF
   * @return this view
   * @throws IllegalArgumentException if out of range
   */
  public Ipv6View setFlowLabel(int flowLabel) {
    checkRange("flow label", flowLabel, 0xfffff);
    int w = Bytes.i32(buf, base);
    Bytes.put32(buf, base, (w & 0xfff00000) | flowLabel);
    return this;
  }

  /**
   * @param payloadLength 0..65535
   * @return this view
   * @throws IllegalArgumentException if out of range
   */
  public Ipv6View setPayloadLength(int payloadLength) {
    checkRange("payload length", payloadLength, MAX_PAYLOAD_LENGTH);
    Bytes.put16(buf, base + 4, payloadLength);
    walkEnd = -1;
    return this;
  }

  /**
   * @param nextHeader 0..255
   * @return this view
   * @throws IllegalArgumentException if out of range
   */
  public Ipv6View setNextHeader(int nextHeader) {
    checkRange("next header", nextHeader, 0xff);
    Bytes.put8(buf, base + 6, nextHeader);
    walkEnd = -1;
    return this;
  }

  /**
   * @param hopLimit 0..255
   * @return this view
   * @throws IllegalArgumentException if out of range
   */
  public Ipv6View setHopLimit(int hopLimit) {
    checkRange("hop limit", hopLimit, 0xff);
    Bytes.put8(buf, base + 7, hopLimit);
    return this;
  }

  /**
   * @param address 16 bytes from {@code at}
   * @param at index of the first byte in {@code address}
   * @return this view
   */
  public Ipv6View setSource(byte[] address, int at) {
    buf.put(base + 8, address, at, 16);
    return this;
  }

  /**
   * @param address 16 bytes from {@code at}
   * @param at index of the first byte in {@code address}
   * @return this view
   */
  public Ipv6View setDestination(byte[] address, int at) {
    buf.put(base + 24, address, at, 16);
    return this;
  }

  // -------------------------------------------------------------------- extension headers

  /**
   * Walks the extension headers of the IPv6 packet at {@code base} up to the absolute index {@code
   * end} (at least {@code base + 40}); see the class description. Allocates nothing, keeps no
   * state: for callers that must stay thread-safe without a view, such as rule matching. Read the
   * result with {@link #pastEnd}, {@link #upperProtocol}, {@link #upperOffset} and {@link
   * #fragmentHeader}.
   *
   * @param b the buffer
   * @param base the absolute index of the IPv6 header
   * @param end the absolute index one past the last byte to look at
   * @return the packed result
   */
  public static long walk(ByteBuffer b, int base, int end) {
    return Ipv6HeaderChain.walk(b, base, end);
  }

  /**
   * @param w a result of {@link #walk}
   * @return whether the header chain ran past the end (S56)
   */
  public static boolean pastEnd(long w) {
    return Ipv6HeaderChain.pastEnd(w);
  }

  /**
   * @param w a result of {@link #walk}
   * @return the upper-layer protocol (for a non-first fragment, the Fragment header's Next Header),
   *     or -1 when the chain ran past the end
   */
  public static int upperProtocol(long w) {
    return Ipv6HeaderChain.upperProtocol(w);
  }

  /**
   * @param w a result of {@link #walk}
   * @return the upper-layer header's offset from the IPv6 header, or -1 when the chain ran past the
   *     end
   */
  public static int upperOffset(long w) {
    return Ipv6HeaderChain.upperOffset(w);
  }

  /**
   * @param w a result of {@link #walk}
   * @return the first Fragment header's offset from the IPv6 header, or 0 when there is none
   */
  public static int fragmentHeader(long w) {
    return Ipv6HeaderChain.fragmentHeader(w);
  }

  private long walked() {
    if (length < HEADER_LENGTH) {
      return Ipv6HeaderChain.PAST_END;
    }
    int end = Ipv6HeaderChain.datagramEnd(buf, base, length);
    if (walkEnd != end) {
      walk = walk(buf, base, end);
      walkEnd = end;
    }
    return walk;
  }

  /**
   * @return the upper-layer protocol (the Next Header value the walk stopped at, e.g. 6, 17, 58,
   *     59), or -1 when the header chain runs past the end or the packet is shorter than 40 bytes
   */
  public int upperLayerProtocol() {
    return upperProtocol(walked());
  }

  /**
   * @return the absolute buffer index of the upper-layer header (which may hold no bytes), or -1 as
   *     for {@link #upperLayerProtocol()}
   */
  public int upperLayerOffset() {
    int o = upperOffset(walked());
    return o < 0 ? -1 : base + o;
  }

  /**
   * @return true if an extension header runs past the end of the datagram (or the packet is shorter
   *     than 40 bytes): such a packet matches only rules without protocol, port or type (S56)
   */
  public boolean headerChainPastEnd() {
    return pastEnd(walked());
  }

  /**
   * @return true if the walk met a Fragment header (also an atomic one)
   */
  public boolean hasFragmentHeader() {
    return fragmentHeader(walked()) != 0;
  }

  /**
   * @return the absolute buffer index of the (first) Fragment header, or -1 when there is none
   */
  public int fragmentHeaderOffset() {
    int f = fragmentHeader(walked());
    return f == 0 ? -1 : base + f;
  }

  /**
   * @return the fragment offset in bytes (0..65528), 0 when there is no Fragment header
   */
  public int fragmentOffset() {
    int f = fragmentHeader(walked());
    return f == 0 ? 0 : Bytes.u16(buf, base + f + 2) & Ipv6HeaderChain.OFFSET_MASK;
  }

  /**
   * @return the M (more fragments) flag, false when there is no Fragment header
   */
  public boolean moreFragments() {
    int f = fragmentHeader(walked());
    return f != 0 && (Bytes.u16(buf, base + f + 2) & Ipv6HeaderChain.M_FLAG) != 0;
  }

  /**
   * @return the 32-bit Identification of the Fragment header, 0 when there is none
   */
  public int fragmentIdentification() {
    int f = fragmentHeader(walked());
    return f == 0 ? 0 : Bytes.i32(buf, base + f + 4);
  }

  /**
   * @return true if this packet is a fragment: a Fragment header with M set or a non-zero offset.
   *     An atomic fragment (offset 0, M 0, RFC 6946) is not one.
   */
  public boolean isFragment() {
    int f = fragmentHeader(walked());
    return f != 0
        && (Bytes.u16(buf, base + f + 2) & (Ipv6HeaderChain.OFFSET_MASK | Ipv6HeaderChain.M_FLAG))
            != 0;
  }

  /**
   * @return true if the packet carries a Jumbo Payload option in its hop-by-hop header (RFC 2675);
   *     divert4j refuses jumbograms (S59)
   */
  public boolean isJumbogram() {
    return Ipv6HeaderChain.jumbo(buf, base, length);
  }

  /**
   * @return the ICMPv6 type, or -1 when the packet is not ICMPv6, is a non-first fragment, or
   *     carries no ICMPv6 byte
   */
  public int icmpv6Type() {
    return icmpByte(0);
  }

  /**
   * @return the ICMPv6 code, or -1 when absent (see {@link #icmpv6Type()})
   */
  public int icmpv6Code() {
    return icmpByte(1);
  }

  @Override
  int transportOffset(int need, boolean ports) {
    return Ipv6HeaderChain.transportOffset(buf, base, length, walked(), need, ports);
  }

  // ------------------------------------------------------------------------------- validation

  /**
   * Checks the packet as received: the payload length field says where the datagram ends. Allocates
   * nothing.
   *
   * <p>Checked, in this order: at least 40 bytes ({@link Defect#IPV6_TOO_SHORT}); version 6 ({@link
   * Defect#IPV6_BAD_VERSION}); no Jumbo Payload option ({@link Defect#JUMBOGRAM}); {@code 40 +
   * payloadLength()} at most the bytes present ({@link Defect#PAYLOAD_LENGTH_INCONSISTENT};
   * trailing bytes after it are allowed, as for IPv4); the extension headers within the datagram
   * ({@link Defect#EXTENSION_HEADER_PAST_END}); for a fragment, M with a fragment payload that is
   * not a multiple of 8 ({@link Defect#FRAGMENT_FLAGS_INCONSISTENT}) and offset plus fragment
   * payload over 65535 ({@link Defect#FRAGMENT_PAST_MAXIMUM}), both RFC 8200 section 4.5.
   *
   * @return null if the packet is well-formed, else the first defect found
   */
  @Override
  public Defect check() {
    Defect d = PacketChecks.ipv6Received(buf, base, length);
    return d != null
        ? d
        : PacketChecks.ipv6Chain(buf, base, walked(), base + HEADER_LENGTH + payloadLength());
  }

  /**
   * Checks the packet as it is about to be sent: the payload length field is ignored, because
   * sending sets it to the bytes written minus 40 (S61), so the datagram is all {@link #length()}
   * bytes. Checked as {@link #check()} without the payload length test. A packet longer than 65575
   * bytes is not a defect here but a {@link org.divert4j.PacketTooLargeException} for the sender.
   * Allocates nothing.
   *
   * @return null if the packet may be sent, else the first defect found
   */
  @Override
  public Defect checkForSend() {
    return PacketChecks.ipv6ForSend(buf, base, length);
  }

  @Override
  String detail(Defect d, boolean send) {
    return ViewText.detail(this, d);
  }

  /**
   * @return a one-line summary for logs, e.g. {@code 2001:db8::1 > 2001:db8::2 next 17 len 28 hlim
   *     64 frag off 0 M id 7}; allocates. Says "malformed" instead when {@link #check()} fails.
   */
  @Override
  public String toString() {
    return ViewText.summary(this);
  }

  /**
   * Formats the 16-byte address at {@code at} in RFC 5952's canonical text form: lower-case hex, no
   * leading zeros, the longest run of two or more zero words (the first of equal runs) as {@code
   * ::}, e.g. {@code 2001:db8::1}. IPv4-mapped addresses are written in hex too.
   *
   * @param b the buffer; read with absolute gets
   * @param at index of the first address byte
   * @return the text; allocates
   * @throws IndexOutOfBoundsException if the 16 bytes are not below the limit
   */
  public static String formatAddress(ByteBuffer b, int at) {
    return ViewText.ipv6Address(b, at);
  }
}
