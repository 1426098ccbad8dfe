package org.divert4j.packet;

import java.nio.ByteBuffer;

/**
 * A reusable flyweight over an IPv4 packet in a {@link ByteBuffer}: reads and writes header fields
 * in place, in network byte order, without copying or allocating.
 *
 * <p><b>Buffers.</b> {@link #wrap(ByteBuffer)} takes the packet from the buffer's position to its
 * limit; {@link #wrap(ByteBuffer, int, int)} takes explicit bounds. The view keeps a reference to
 * the buffer but never changes its position, limit, mark or byte order (all access is absolute, and
 * multi-byte fields are big-endian whatever {@link ByteBuffer#order()} says). The caller keeps
 * ownership: the view is valid while the caller leaves those bytes alone, and sees any change made
 * to them. Setters on a read-only buffer throw {@link java.nio.ReadOnlyBufferException}.
 *
 * <p><b>Validation.</b> Accessors do not validate: on a packet that {@link #check()} rejects they
 * return whatever the bytes say, or throw {@link IndexOutOfBoundsException} when a field lies past
 * the buffer's limit. Call {@link #check()} (receive side: the total length field counts) or {@link
 * #checkForSend()} (send side: the total length field is ignored, SEMANTICS.md S40) first.
 *
 * <p><b>Addresses</b> are host-order ints, as in {@link org.divert4j.Ipv4}: 10.0.0.1 is {@code
 * 0x0A000001}.
 *
 * <p><b>Threads.</b> Not thread-safe: use one view per thread (they are cheap) and do not change
 * the wrapped bytes from another thread while reading them. No method blocks.
 */
public final class Ipv4View extends IpView {
  /** The length of an IPv4 header without options. */
  public static final int MIN_HEADER_LENGTH = 20;

  /** The largest IPv4 header: IHL 15. */
  public static final int MAX_HEADER_LENGTH = 60;

  /** The largest IPv4 datagram. */
  public static final int MAX_LENGTH = 65535;

  /** IP protocol number of ICMP. */
  public static final int PROTOCOL_ICMP = 1;

  /** IP protocol number of TCP. */
  public static final int PROTOCOL_TCP = 6;

  /** IP protocol number of UDP. */
  public static final int PROTOCOL_UDP = 17;

  /** IP protocol number of DCCP (ports at the same place as TCP and UDP). */
  public static final int PROTOCOL_DCCP = 33;

  /** IP protocol number of SCTP (ports at the same place as TCP and UDP). */
  public static final int PROTOCOL_SCTP = 132;

  /** IP protocol number of UDP-Lite (ports at the same place as UDP). */
  public static final int PROTOCOL_UDPLITE = 136;

  // Flags and fragment offset share the 16-bit word at offset 6 (RFC 791 section 3.1).
  private static final int FLAG_RESERVED = 0x8000;
  private static final int FLAG_DF = 0x4000;
  static final int FLAG_MF = 0x2000;
  static final int OFFSET_MASK = 0x1fff;

  /** Creates an empty view; call {@link #wrap} before anything else. */
  public Ipv4View() {}

  /**
   * Points this view at the packet from {@code buf.position()} to {@code buf.limit()}.
   *
   * @param buf the buffer holding the packet; kept by reference, not copied
   * @return this view
   */
  public Ipv4View wrap(ByteBuffer buf) {
    return wrap(buf, buf.position(), buf.remaining());
  }

  /**
   * Points this view at {@code length} bytes of {@code buf} starting at index {@code offset}. The
   * buffer's position and limit are ignored except that the bytes must lie below the limit.
   *
   * @param buf the buffer holding the packet; kept by reference, not copied
   * @param offset index of the first byte of the IP header
   * @param length number of bytes that belong to the packet (the bytes "present")
   * @return this view
   * @throws IndexOutOfBoundsException if the range does not lie within {@code 0..buf.limit()}
   */
  public Ipv4View wrap(ByteBuffer buf, int offset, int length) {
    bind(buf, offset, length);
    return this;
  }

  // ---------------------------------------------------------------------------------- getters

  /**
   * @return the IHL field: the header length in 32-bit words
   */
  public int ihl() {
    return Bytes.u8(buf, base) & 0x0f;
  }

  /**
   * @return the header length in bytes, {@code ihl() * 4}
   */
  public int headerLength() {
    return (Bytes.u8(buf, base) & 0x0f) << 2;
  }

  /**
   * @return the type-of-service byte (DSCP and ECN)
   */
  public int tos() {
    return Bytes.u8(buf, base + 1);
  }

  /**
   * @return the total length field, 0..65535
   */
  public int totalLength() {
    return Bytes.u16(buf, base + 2);
  }

  /**
   * @return the identification field, 0..65535
   */
  public int identification() {
    return Bytes.u16(buf, base + 4);
  }

  /**
   * @return true if the reserved flag bit (bit 0 of the flags, RFC 791) is set
   */
  public boolean reservedFlag() {
    return (Bytes.u16(buf, base + 6) & FLAG_RESERVED) != 0;
  }

  /**
   * @return true if the Don't Fragment flag is set
   */
  public boolean dontFragment() {
    return (Bytes.u16(buf, base + 6) & FLAG_DF) != 0;
  }

  /**
   * @return true if the More Fragments flag is set
   */
  public boolean moreFragments() {
    return (Bytes.u16(buf, base + 6) & FLAG_MF) != 0;
  }

  /**
   * @return the fragment offset in bytes (the field times 8), 0..65528
   */
  public int fragmentOffset() {
    return (Bytes.u16(buf, base + 6) & OFFSET_MASK) << 3;
  }

  /**
   * @return true if this packet is a fragment: MF set or a non-zero offset
   */
  public boolean isFragment() {
    return (Bytes.u16(buf, base + 6) & (FLAG_MF | OFFSET_MASK)) != 0;
  }

  /**
   * @return the time-to-live field
   */
  public int ttl() {
    return Bytes.u8(buf, base + 8);
  }

  /**
   * @return the protocol field (e.g. {@link #PROTOCOL_UDP})
   */
  public int protocol() {
    return Bytes.u8(buf, base + 9);
  }

  /**
   * @return the header checksum field as stored, 0..65535
   */
  public int headerChecksum() {
    return Bytes.u16(buf, base + 10);
  }

  /**
   * @return the source address, host order ({@code 0x0A000001} is 10.0.0.1)
   */
  public int source() {
    return Bytes.i32(buf, base + 12);
  }

  /**
   * @return the destination address, host order
   */
  public int destination() {
    return Bytes.i32(buf, base + 16);
  }

  /**
   * @return the number of option bytes (including padding): {@code headerLength() - 20}
   */
  public int optionsLength() {
    return headerLength() - MIN_HEADER_LENGTH;
  }

  /**
   * @return the absolute buffer index of the first byte after the header
   */
  public int payloadOffset() {
    return base + headerLength();
  }

  /**
   * @return the payload length by the total length field: {@code totalLength() - headerLength()};
   *     negative on a packet whose total length is shorter than its header ({@link #check()} says
   *     so). On the send side, where the total length field is ignored, the payload is {@code
   *     length() - headerLength()}.
   */
  public int payloadLength() {
    return totalLength() - headerLength();
  }

  /**
   * @return the ICMP type, or -1 when the packet is not ICMP, is a non-first fragment, or carries
   *     no ICMP byte
   */
  public int icmpType() {
    return icmpByte(0);
  }

  /**
   * @return the ICMP code, or -1 when absent (see {@link #icmpType()})
   */
  public int icmpCode() {
    return icmpByte(1);
  }

  /**
   * Where the transport header starts, if {@code need} of its bytes are present in a first fragment
   * (or whole datagram) of the wanted kind; -1 otherwise. The end of the packet is the smaller of
   * the total length and the bytes present, so trailing link padding never reads as payload.
   */
  @Override
  int transportOffset(int need, boolean ports) {
    if (length < MIN_HEADER_LENGTH || (Bytes.u16(buf, base + 6) & OFFSET_MASK) != 0) {
      return -1;
    }
    int p = protocol();
    if (ports ? !hasPorts(p) : p != PROTOCOL_ICMP) {
      return -1;
    }
    int hl = headerLength();
    int end = Math.min(totalLength(), length);
    if (hl < MIN_HEADER_LENGTH || hl + need > end) {
      return -1;
    }
    return base + hl;
  }

  // ---------------------------------------------------------------------------------- setters
  // Setters change one field and nothing else: the header checksum is left as it was, so a program
  // can batch several edits and then call fillHeaderChecksum() once, or adjust it incrementally
  // with Checksums.adjust (RFC 1624).

  /**
   * @param version 0..15 (4 for IPv4)
   * @return this view
   * @throws IllegalArgumentException if out of range
   */
  public Ipv4View setVersion(int version) {
    checkRange("version", version, 15);
    Bytes.put8(buf, base, version << 4 | (Bytes.u8(buf, base) & 0x0f));
    return this;
  }

  /**
   * @param ihl header length in 32-bit words, 0..15
   * @return this view
   * @throws IllegalArgumentException if out of range
   */
  public Ipv4View setIhl(int ihl) {
    checkRange("IHL", ihl, 15);
    Bytes.put8(buf, base, (Bytes.u8(buf, base) & 0xf0) | ihl);
    return this;
  }

  /**
   * @param tos the type-of-service byte, 0..255
   * @return this view
   * @throws IllegalArgumentException if out of range
   */
  public Ipv4View setTos(int tos) {
    checkRange("TOS", tos, 0xff);
    Bytes.put8(buf, base + 1, tos);
    return this;
  }

  /**
   * @param totalLength 0..65535
   * @return this view
   * @throws IllegalArgumentException if out of range
   */
  public Ipv4View setTotalLength(int totalLength) {
    checkRange("total length", totalLength, 0xffff);
    Bytes.put16(buf, base + 2, totalLength);
    return this;
  }

  /**
   * @param id 0..65535
   * @return this view
   * @throws IllegalArgumentException if out of range
   */
  public Ipv4View setIdentification(int id) {
    checkRange("identification", id, 0xffff);
    Bytes.put16(buf, base + 4, id);
    return this;
  }

  /**
   * Sets DF and MF; the reserved flag and the fragment offset are kept.
   *
   * @param dontFragment the DF flag
   * @param moreFragments the MF flag
   * @return this view
   */
  public Ipv4View setFlags(boolean dontFragment, boolean moreFragments) {
    int w = Bytes.u16(buf, base + 6) & ~(FLAG_DF | FLAG_MF);
    Bytes.put16(buf, base + 6, w | (dontFragment ? FLAG_DF : 0) | (moreFragments ? FLAG_MF : 0));
    return this;
  }

  /**
   * @param set the reserved flag bit; the other flags and the offset are kept
   * @return this view
   */
  public Ipv4View setReservedFlag(boolean set) {
    int w = Bytes.u16(buf, base + 6) & ~FLAG_RESERVED;
    Bytes.put16(buf, base + 6, w | (set ? FLAG_RESERVED : 0));
    return this;
  }

  /**
   * @param offsetBytes the fragment offset in bytes: a multiple of 8, 0..65528
   * @return this view
   * @throws IllegalArgumentException if not a multiple of 8 or out of range
   */
  public Ipv4View setFragmentOffset(int offsetBytes) {
    if (offsetBytes < 0 || offsetBytes > OFFSET_MASK << 3 || (offsetBytes & 7) != 0) {
      throw new IllegalArgumentException(
          "fragment offset must be a multiple of 8 in 0..65528: " + offsetBytes);
    }
    int w = Bytes.u16(buf, base + 6) & ~OFFSET_MASK;
    Bytes.put16(buf, base + 6, w | offsetBytes >>> 3);
    return this;
  }

  /**
   * @param ttl 0..255
   * @return this view
   * @throws IllegalArgumentException if out of range
   */
  public Ipv4View setTtl(int ttl) {
    checkRange("TTL", ttl, 0xff);
    Bytes.put8(buf, base + 8, ttl);
    return this;
  }

  /**
   * @param protocol 0..255
   * @return this view
   * @throws IllegalArgumentException if out of range
   */
  public Ipv4View setProtocol(int protocol) {
    checkRange("protocol", protocol, 0xff);
    Bytes.put8(buf, base + 9, protocol);
    return this;
  }

  /**
   * @param checksum the value to store, 0..65535
   * @return this view
   * @throws IllegalArgumentException if out of range
   */
  public Ipv4View setHeaderChecksum(int checksum) {
    checkRange("checksum", checksum, 0xffff);
    Bytes.put16(buf, base + 10, checksum);
    return this;
  }

  /**
   * @param address host-order source address
   * @return this view
   */
  public Ipv4View setSource(int address) {
    Bytes.put32(buf, base + 12, address);
    return this;
  }

  /**
   * @param address host-order destination address
   * @return this view
   */
  public Ipv4View setDestination(int address) {
    Bytes.put32(buf, base + 16, address);
    return this;
  }

  /**
   * Recomputes and stores the header checksum (RFC 1071).
   *
   * @return this view
   * @throws IllegalArgumentException if the IHL is under 5
   */
  public Ipv4View fillHeaderChecksum() {
    Checksums.fillIpv4Header(buf, base);
    return this;
  }

  /**
   * @return true if the stored header checksum is correct; false also when the header does not fit
   *     in the buffer or the IHL is under 5
   */
  public boolean isHeaderChecksumValid() {
    return Checksums.isIpv4HeaderValid(buf, base);
  }

  // ------------------------------------------------------------------------------- validation

  /**
   * Checks the packet as received: the total length field says where the datagram ends. Allocates
   * nothing.
   *
   * <p>Checked, in this order: at least 20 bytes ({@link Defect#TOO_SHORT}); version 4 ({@link
   * Defect#BAD_VERSION}); IHL at least 5 ({@link Defect#BAD_HEADER_LENGTH}); the header within the
   * bytes present ({@link Defect#HEADER_PAST_END}); total length at most the bytes present ({@link
   * Defect#TOTAL_LENGTH_PAST_END}; trailing bytes after it, such as Ethernet padding, are allowed)
   * and at least the header ({@link Defect#TOTAL_LENGTH_TOO_SHORT}); MF with a payload that is not
   * a multiple of 8 ({@link Defect#FRAGMENT_FLAGS_INCONSISTENT}: the next fragment's offset could
   * not be expressed, RFC 791); fragment offset plus payload over 65535 ({@link
   * Defect#FRAGMENT_PAST_MAXIMUM}, the "ping of death").
   *
   * <p>Not defects on receive, on purpose:
   *
   * <ul>
   *   <li>DF on a fragment. Linux itself sends such fragments when it refragments a datagram that
   *       it reassembled and that had DF set ({@code IPSKB_FRAG_PMTU} in {@code ip_output.c}), and
   *       {@code ip_defrag} ignores DF. {@link #checkForSend()} accepts them too, so that such
   *       fragments can be written back unchanged (S17).
   *   <li>The reserved flag: Linux ignores it on receive and S8 delivers packets as they were on
   *       the wire. {@link #checkStrict()} reports it for programs that want RFC 791's "must be
   *       zero".
   *   <li>The header checksum: see {@link #isHeaderChecksumValid()}; S10 promises valid checksums
   *       on receive, so a program need not check.
   * </ul>
   *
   * @return null if the packet is well-formed, else the first defect found
   */
  @Override
  public Defect check() {
    return PacketChecks.ipv4(buf, base, length, false);
  }

  /**
   * {@link #check()}, and also refuses a set reserved flag ({@link Defect#RESERVED_FLAG_SET}).
   *
   * @return null if the packet is well-formed and its reserved flag is clear, else the defect
   */
  public Defect checkStrict() {
    Defect d = check();
    if (d == null && reservedFlag()) {
      return Defect.RESERVED_FLAG_SET;
    }
    return d;
  }

  /**
   * Checks the packet as it is about to be sent (SEMANTICS.md S47). The total length field is
   * ignored, because sending sets it to the number of bytes written (S40): the packet is all {@link
   * #length()} bytes. Allocates nothing.
   *
   * <p>Checked, in this order: at least 20 bytes ({@link Defect#TOO_SHORT}); version 4 ({@link
   * Defect#BAD_VERSION}); IHL at least 5 ({@link Defect#BAD_HEADER_LENGTH}); the header within the
   * packet ({@link Defect#HEADER_PAST_END}); MF with a payload that is not a multiple of 8 ({@link
   * Defect#FRAGMENT_FLAGS_INCONSISTENT}); fragment offset plus payload over 65535 ({@link
   * Defect#FRAGMENT_PAST_MAXIMUM}). A packet over 65535 bytes is not a defect here but a {@link
   * org.divert4j.PacketTooLargeException} for the sender (S31). The reserved flag is sent as the
   * program set it (S41).
   *
   * <p>DF on a fragment is accepted, as on receive: Linux emits such fragments when it refragments
   * a reassembled DF datagram, and S17 requires writing fragments back unchanged to work.
   *
   * @return null if the packet may be sent, else the first defect found
   */
  @Override
  public Defect checkForSend() {
    return PacketChecks.ipv4(buf, base, length, true);
  }

  @Override
  String detail(Defect d, boolean send) {
    return ViewText.detail(this, d, send);
  }

  /**
   * @return a one-line summary for logs, e.g. {@code 10.0.0.1 > 10.0.0.2 proto 17 len 28 id 7 ttl
   *     64}; allocates. Says "malformed" instead when {@link #check()} fails.
   */
  @Override
  public String toString() {
    return ViewText.summary(this);
  }
}
