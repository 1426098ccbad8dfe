package org.divert4j.packet;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Builds IPv6 packets (RFC 8200): UDP, ICMPv6 echo, TCP (basic 20-byte header) or any upper layer
 * with a raw payload, optionally behind extension headers and a Fragment header, for tests, demos,
 * the simulation and programs that inject their own packets (SEMANTICS.md S42, K).
 *
 * <pre>{@code
 * ByteBuffer p = Ipv6Builder.udp(5000, 9)
 *     .source("2001:db8::1").destination("2001:db8::2")
 *     .hopByHop(new byte[4])                 // Pad1 options
 *     .payload("hello".getBytes(US_ASCII))
 *     .build();
 * }</pre>
 *
 * <p>Defaults: hop limit 64, traffic class 0, flow label 0, no extension headers, empty payload,
 * addresses {@code ::}. Extension headers are written in the order they were added, each chained to
 * the next by its Next Header field; the last one names the upper layer. Their bodies are padded
 * with zero bytes (Pad1 options, for option headers) to a multiple of 8 bytes. The payload length
 * field is always filled. The transport checksum (UDP, TCP, ICMPv6, with the IPv6 pseudo-header) is
 * filled for whole datagrams and atomic fragments; a fragment (offset or M set) would need bytes of
 * the other fragments, so its checksum is left 0 (use {@link Ipv6Fragmenter} to cut a whole
 * datagram).
 *
 * <p>A builder is mutable and reusable. Setters check their arguments and throw {@link
 * IllegalArgumentException}. Not thread-safe; nothing blocks. Arrays and buffers given are copied.
 */
public final class Ipv6Builder {
  private static final byte[] ANY = new byte[16];

  private final TransportPart transport;
  private final int protocol;
  private byte[] source = ANY;
  private byte[] destination = ANY;
  private int hopLimit = 64;
  private int trafficClass;
  private int flowLabel;
  // Each extension header complete but for its first byte (the Next Header), in chain order.
  private final List<byte[]> headers = new ArrayList<>();
  private final List<Integer> types = new ArrayList<>();
  private int fragmentAt = -1;

  private Ipv6Builder(TransportPart transport, int protocol) {
    this.transport = transport;
    this.protocol = protocol;
  }

  /**
   * @param sourcePort 0..65535
   * @param destinationPort 0..65535
   * @return a builder for a UDP datagram; the payload is the UDP data
   */
  public static Ipv6Builder udp(int sourcePort, int destinationPort) {
    return new Ipv6Builder(
        TransportPart.withPorts(TransportPart.Kind.UDP, sourcePort, destinationPort),
        Ipv4View.PROTOCOL_UDP);
  }

  /**
   * @param sourcePort 0..65535
   * @param destinationPort 0..65535
   * @return a builder for a TCP segment with a 20-byte header, no options, window 65535, no flags
   */
  public static Ipv6Builder tcp(int sourcePort, int destinationPort) {
    return new Ipv6Builder(
        TransportPart.withPorts(TransportPart.Kind.TCP, sourcePort, destinationPort),
        Ipv4View.PROTOCOL_TCP);
  }

  /**
   * @param identifier the echo identifier, 0..65535
   * @param sequence the echo sequence number, 0..65535
   * @return a builder for an ICMPv6 echo request (type 128); the payload is the echo data
   */
  public static Ipv6Builder icmpv6EchoRequest(int identifier, int sequence) {
    return icmpEcho(128, identifier, sequence);
  }

  /**
   * @param identifier the echo identifier, 0..65535
   * @param sequence the echo sequence number, 0..65535
   * @return a builder for an ICMPv6 echo reply (type 129); the payload is the echo data
   */
  public static Ipv6Builder icmpv6EchoReply(int identifier, int sequence) {
    return icmpEcho(129, identifier, sequence);
  }

  private static Ipv6Builder icmpEcho(int type, int identifier, int sequence) {
    return new Ipv6Builder(
        TransportPart.echo(type, identifier, sequence), Ipv6View.PROTOCOL_ICMPV6);
  }

  /**
   * @param nextHeader the upper-layer protocol number, 0..255
   * @return a builder whose payload follows the extension headers as given (no checksum computed)
   */
  public static Ipv6Builder raw(int nextHeader) {
    return new Ipv6Builder(TransportPart.raw(), check("next header", nextHeader, 0xff));
  }

  /**
   * @param address 16 bytes, copied
   * @return this builder
   */
  public Ipv6Builder source(byte[] address) {
    this.source = address16(address);
    return this;
  }

  /**
   * @param literal an IPv6 address literal such as {@code "2001:db8::1"}
   * @return this builder
   * @throws IllegalArgumentException if it is not an IPv6 literal
   */
  public Ipv6Builder source(String literal) {
    this.source = parse(literal);
    return this;
  }

  /**
   * @param address 16 bytes, copied
   * @return this builder
   */
  public Ipv6Builder destination(byte[] address) {
    this.destination = address16(address);
    return this;
  }

  /**
   * @param literal an IPv6 address literal
   * @return this builder
   * @throws IllegalArgumentException if it is not an IPv6 literal
   */
  public Ipv6Builder destination(String literal) {
    this.destination = parse(literal);
    return this;
  }

  /**
   * @param hopLimit 0..255
   * @return this builder
   */
  public Ipv6Builder hopLimit(int hopLimit) {
    this.hopLimit = check("hop limit", hopLimit, 0xff);
    return this;
  }

  /**
   * @param trafficClass 0..255
   * @return this builder
   */
  public Ipv6Builder trafficClass(int trafficClass) {
    this.trafficClass = check("traffic class", trafficClass, 0xff);
    return this;
  }

  /**
   * @param flowLabel 0..0xFFFFF
   * @return this builder
   */
  public Ipv6Builder flowLabel(int flowLabel) {
    this.flowLabel = check("flow label", flowLabel, 0xfffff);
    return this;
  }

  /**
   * Appends a Hop-by-Hop Options header (RFC 8200 section 4.3).
   *
   * @param options the option TLVs, copied; zero-padded (Pad1) to fill a multiple of 8 bytes
   * @return this builder
   */
  public Ipv6Builder hopByHop(byte[] options) {
    return extensionHeader(Ipv6View.NEXT_HOP_BY_HOP, options);
  }

  /**
   * Appends a Destination Options header (RFC 8200 section 4.6).
   *
   * @param options the option TLVs, copied; zero-padded (Pad1) to a multiple of 8 bytes
   * @return this builder
   */
  public Ipv6Builder destinationOptions(byte[] options) {
    return extensionHeader(Ipv6View.NEXT_DESTINATION_OPTIONS, options);
  }

  /**
   * Appends a Routing header (RFC 8200 section 4.4).
   *
   * @param body the bytes after Next Header and Hdr Ext Len (routing type, segments left, data),
   *     copied; zero-padded to a multiple of 8 bytes
   * @return this builder
   */
  public Ipv6Builder routing(byte[] body) {
    return extensionHeader(Ipv6View.NEXT_ROUTING, body);
  }

  /**
   * Appends an extension header in the hop-by-hop/routing/destination-options format.
   *
   * @param type the Next Header value that names it in the previous header, 0..255
   * @param body the bytes after Next Header and Hdr Ext Len, copied; zero-padded to make the header
   *     a multiple of 8 bytes; at most 2046 bytes
   * @return this builder
   */
  public Ipv6Builder extensionHeader(int type, byte[] body) {
    check("extension header type", type, 0xff);
    int len = body.length + 2 + 7 & ~7;
    if (len > 2048) {
      throw new IllegalArgumentException("an extension header is at most 2048 bytes: " + len);
    }
    byte[] h = Arrays.copyOf(new byte[2], len);
    System.arraycopy(body, 0, h, 2, body.length);
    h[1] = (byte) ((len >>> 3) - 1);
    headers.add(h);
    types.add(type);
    return this;
  }

  /**
   * Appends a Fragment header (RFC 8200 section 4.5). At most one.
   *
   * @param offsetBytes the fragment offset: a multiple of 8, 0..65528
   * @param more the M flag
   * @param identification the 32-bit identification
   * @return this builder
   * @throws IllegalArgumentException if the offset is not a multiple of 8 or out of range
   * @throws IllegalStateException if a Fragment header was already added
   */
  public Ipv6Builder fragmentHeader(int offsetBytes, boolean more, int identification) {
    if (offsetBytes < 0 || offsetBytes > 65528 || (offsetBytes & 7) != 0) {
      throw new IllegalArgumentException(
          "fragment offset must be a multiple of 8 in 0..65528: " + offsetBytes);
    }
    if (fragmentAt >= 0) {
      throw new IllegalStateException("a packet has at most one Fragment header here");
    }
    byte[] h = new byte[Ipv6View.FRAGMENT_HEADER_LENGTH];
    h[2] = (byte) (offsetBytes >>> 8);
    h[3] = (byte) (offsetBytes | (more ? 1 : 0));
    h[4] = (byte) (identification >>> 24);
    h[5] = (byte) (identification >>> 16);
    h[6] = (byte) (identification >>> 8);
    h[7] = (byte) identification;
    fragmentAt = headers.size();
    headers.add(h);
    types.add(Ipv6View.NEXT_FRAGMENT);
    return this;
  }

  /**
   * @param payload the transport data (or everything after the extension headers for {@link #raw}),
   *     copied
   * @return this builder
   */
  public Ipv6Builder payload(byte[] payload) {
    transport.payload(payload);
    return this;
  }

  /**
   * @param payload the bytes from its position to its limit, copied; position unchanged
   * @return this builder
   */
  public Ipv6Builder payload(ByteBuffer payload) {
    transport.payload(payload);
    return this;
  }

  /**
   * @param length a payload of this many bytes counting up from 0 (mod 256), handy for tests
   * @return this builder
   */
  public Ipv6Builder payloadLength(int length) {
    transport.payloadLength(length, Ipv6View.MAX_PAYLOAD_LENGTH);
    return this;
  }

  /**
   * @param seq the TCP sequence number, 0..2^32-1
   * @return this builder
   * @throws IllegalStateException if this is not a TCP builder
   */
  public Ipv6Builder sequence(long seq) {
    transport.sequence(seq);
    return this;
  }

  /**
   * @param ack the TCP acknowledgment number, 0..2^32-1
   * @return this builder
   * @throws IllegalStateException if this is not a TCP builder
   */
  public Ipv6Builder acknowledgment(long ack) {
    transport.acknowledgment(ack);
    return this;
  }

  /**
   * @param flags TCP flags ({@link Ipv4Builder#TCP_SYN} etc.), 0..255
   * @return this builder
   * @throws IllegalStateException if this is not a TCP builder
   */
  public Ipv6Builder tcpFlags(int flags) {
    transport.tcpFlags(flags);
    return this;
  }

  /**
   * @param window the TCP window, 0..65535
   * @return this builder
   * @throws IllegalStateException if this is not a TCP builder
   */
  public Ipv6Builder window(int window) {
    transport.window(window);
    return this;
  }

  /**
   * @return the length in bytes of the packet {@link #build()} would produce
   */
  public int length() {
    int n = Ipv6View.HEADER_LENGTH + transport.length();
    for (byte[] h : headers) {
      n += h.length;
    }
    return n;
  }

  /**
   * @return the packet in a new heap buffer, position 0, limit its length; owned by the caller
   * @throws IllegalStateException if the payload would exceed 65535 bytes
   */
  public ByteBuffer build() {
    ByteBuffer b = ByteBuffer.allocate(checkedLength());
    writeTo(b, 0);
    return b;
  }

  /**
   * Writes the packet at {@code dst.position()} and advances the position past it.
   *
   * @param dst the buffer to write into
   * @return the number of bytes written
   * @throws IllegalStateException if the payload would exceed 65535 bytes
   * @throws BufferOverflowException if fewer bytes remain
   */
  public int writeTo(ByteBuffer dst) {
    int n = checkedLength();
    if (dst.remaining() < n) {
      throw new BufferOverflowException();
    }
    writeTo(dst, dst.position());
    dst.position(dst.position() + n);
    return n;
  }

  /**
   * Writes the packet at index {@code offset} with absolute puts; position and limit unchanged.
   *
   * @param dst the buffer to write into
   * @param offset index of the first byte
   * @return the number of bytes written
   * @throws IllegalStateException if the payload would exceed 65535 bytes
   * @throws IndexOutOfBoundsException if it does not fit below {@code dst.limit()}
   */
  public int writeTo(ByteBuffer dst, int offset) {
    int n = checkedLength();
    Objects.checkFromIndexSize(offset, n, dst.limit());
    Bytes.put32(dst, offset, 6 << 28 | trafficClass << 20 | flowLabel);
    Bytes.put16(dst, offset + 4, n - Ipv6View.HEADER_LENGTH);
    Bytes.put8(dst, offset + 6, types.isEmpty() ? protocol : types.get(0));
    Bytes.put8(dst, offset + 7, hopLimit);
    dst.put(offset + 8, source);
    dst.put(offset + 24, destination);
    int t = offset + Ipv6View.HEADER_LENGTH;
    for (int i = 0; i < headers.size(); i++) {
      byte[] h = headers.get(i);
      dst.put(t, h);
      Bytes.put8(dst, t, i + 1 < types.size() ? types.get(i + 1) : protocol);
      t += h.length;
    }
    transport.writeTo(dst, t);
    boolean fragment =
        fragmentAt >= 0 && (headers.get(fragmentAt)[2] | headers.get(fragmentAt)[3]) != 0;
    if (transport.kind != TransportPart.Kind.RAW && !fragment) {
      // Summed here rather than by Checksums.fillTransport6, whose walk would stop at an extension
      // header type it does not know (extensionHeader accepts any).
      int len = offset + n - t;
      int sum = Checksums.ipv6PseudoHeaderSum(dst, offset, protocol, len);
      TransportPart.Kind kind = transport.kind;
      int field = kind == TransportPart.Kind.UDP ? 6 : kind == TransportPart.Kind.TCP ? 16 : 2;
      int c = ~Checksums.combine(sum, Checksums.sum(dst, t, len)) & 0xffff;
      Bytes.put16(dst, t + field, kind == TransportPart.Kind.UDP && c == 0 ? 0xffff : c);
    }
    return n;
  }

  private int checkedLength() {
    int n = length();
    if (n - Ipv6View.HEADER_LENGTH > Ipv6View.MAX_PAYLOAD_LENGTH) {
      throw new IllegalStateException(
          "the payload would be "
              + (n - Ipv6View.HEADER_LENGTH)
              + " bytes, over the IPv6 maximum of 65535 (jumbograms are not supported)");
    }
    return n;
  }

  private static byte[] address16(byte[] a) {
    if (a.length != 16) {
      throw new IllegalArgumentException("an IPv6 address has 16 bytes: " + a.length);
    }
    return a.clone();
  }

  private static byte[] parse(String literal) {
    if (literal.isEmpty() || literal.indexOf('[') >= 0) {
      throw new IllegalArgumentException("not an IPv6 address literal: " + literal);
    }
    try {
      // In brackets, InetAddress.getByName parses an IPv6 literal or throws; it never looks it up.
      InetAddress a = InetAddress.getByName("[" + literal + "]");
      if (a instanceof Inet4Address) {
        byte[] m = new byte[16];
        m[10] = (byte) 0xff;
        m[11] = (byte) 0xff;
        System.arraycopy(a.getAddress(), 0, m, 12, 4);
        return m;
      }
      return a.getAddress();
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("not an IPv6 address literal: " + literal, e);
    }
  }

  private static int check(String what, int value, int max) {
    if (value < 0 || value > max) {
      throw new IllegalArgumentException(what + " must be 0.." + max + ": " + value);
    }
    return value;
  }
}
