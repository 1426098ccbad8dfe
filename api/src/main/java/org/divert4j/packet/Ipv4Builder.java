package org.divert4j.packet;

import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;
import org.divert4j.Ipv4;

/**
 * Builds IPv4 datagrams: UDP, ICMP echo, TCP (basic 20-byte header) or any protocol with a raw
 * payload, for tests, demos and programs that inject their own packets (SEMANTICS.md S42).
 *
 * <pre>{@code
 * ByteBuffer p = Ipv4Builder.udp(5000, 9)
 *     .source("10.0.0.1").destination("10.0.0.2")
 *     .payload("hello".getBytes(US_ASCII))
 *     .build();
 * }</pre>
 *
 * <p>Defaults: TTL 64, TOS 0, identification 0 (a sender fills it, S39), no flags, offset 0, no
 * options, empty payload, addresses 0.0.0.0. The IP header checksum is always filled. The transport
 * checksum (UDP, TCP, ICMP) is filled for whole datagrams; when MF or an offset is set the result
 * is a fragment, whose transport checksum would cover other fragments, so it is left 0 (use {@link
 * #raw} to build non-first fragments, or {@link Fragmenter} to cut a whole datagram).
 *
 * <p>A builder is mutable and reusable: change a field and build again. Setters check their
 * arguments and throw {@link IllegalArgumentException}. Not thread-safe; nothing blocks. Byte
 * arrays and buffers given to it are copied.
 */
public final class Ipv4Builder {
  /** TCP flag FIN. */
  public static final int TCP_FIN = 0x01;

  /** TCP flag SYN. */
  public static final int TCP_SYN = 0x02;

  /** TCP flag RST. */
  public static final int TCP_RST = 0x04;

  /** TCP flag PSH. */
  public static final int TCP_PSH = 0x08;

  /** TCP flag ACK. */
  public static final int TCP_ACK = 0x10;

  /** TCP flag URG. */
  public static final int TCP_URG = 0x20;

  private static final byte[] EMPTY = new byte[0];

  private final TransportPart transport;
  private final int protocol;
  private int source;
  private int destination;
  private int ttl = 64;
  private int tos;
  private int identification;
  private boolean dontFragment;
  private boolean moreFragments;
  private boolean reservedFlag;
  private int fragmentOffset;
  private byte[] options = EMPTY;

  private Ipv4Builder(TransportPart transport, int protocol) {
    this.transport = transport;
    this.protocol = protocol;
  }

  /**
   * @param sourcePort 0..65535
   * @param destinationPort 0..65535
   * @return a builder for a UDP datagram; the payload is the UDP data
   */
  public static Ipv4Builder udp(int sourcePort, int destinationPort) {
    return new Ipv4Builder(
        TransportPart.withPorts(TransportPart.Kind.UDP, sourcePort, destinationPort),
        Ipv4View.PROTOCOL_UDP);
  }

  /**
   * @param sourcePort 0..65535
   * @param destinationPort 0..65535
   * @return a builder for a TCP segment with a 20-byte header, no TCP options, window 65535 and no
   *     flags; the payload is the segment data
   */
  public static Ipv4Builder tcp(int sourcePort, int destinationPort) {
    return new Ipv4Builder(
        TransportPart.withPorts(TransportPart.Kind.TCP, sourcePort, destinationPort),
        Ipv4View.PROTOCOL_TCP);
  }

  /**
   * @param identifier the echo identifier, 0..65535
   * @param sequence the echo sequence number, 0..65535
   * @return a builder for an ICMP echo request (type 8); the payload is the echo data
   */
  public static Ipv4Builder icmpEchoRequest(int identifier, int sequence) {
    return icmpEcho(8, identifier, sequence);
  }

  /**
   * @param identifier the echo identifier, 0..65535
   * @param sequence the echo sequence number, 0..65535
   * @return a builder for an ICMP echo reply (type 0); the payload is the echo data
   */
  public static Ipv4Builder icmpEchoReply(int identifier, int sequence) {
    return icmpEcho(0, identifier, sequence);
  }

  private static Ipv4Builder icmpEcho(int type, int identifier, int sequence) {
    return new Ipv4Builder(TransportPart.echo(type, identifier, sequence), Ipv4View.PROTOCOL_ICMP);
  }

  /**
   * @param protocol the IP protocol number, 0..255
   * @return a builder whose payload is the whole IP payload, written as given (no transport
   *     checksum is computed)
   */
  public static Ipv4Builder raw(int protocol) {
    return new Ipv4Builder(TransportPart.raw(), check("protocol", protocol, 0xff));
  }

  /**
   * @param address host-order source address
   * @return this builder
   */
  public Ipv4Builder source(int address) {
    this.source = address;
    return this;
  }

  /**
   * @param dottedQuad e.g. {@code "10.0.0.1"}; no name lookup
   * @return this builder
   */
  public Ipv4Builder source(String dottedQuad) {
    return source(Ipv4.parseInt(dottedQuad));
  }

  /**
   * @param address host-order destination address
   * @return this builder
   */
  public Ipv4Builder destination(int address) {
    this.destination = address;
    return this;
  }

  /**
   * @param dottedQuad e.g. {@code "10.0.0.2"}; no name lookup
   * @return this builder
   */
  public Ipv4Builder destination(String dottedQuad) {
    return destination(Ipv4.parseInt(dottedQuad));
  }

  /**
   * @param ttl 0..255
   * @return this builder
   */
  public Ipv4Builder ttl(int ttl) {
    this.ttl = check("TTL", ttl, 0xff);
    return this;
  }

  /**
   * @param tos the type-of-service byte, 0..255
   * @return this builder
   */
  public Ipv4Builder tos(int tos) {
    this.tos = check("TOS", tos, 0xff);
    return this;
  }

  /**
   * @param id 0..65535
   * @return this builder
   */
  public Ipv4Builder identification(int id) {
    this.identification = check("identification", id, 0xffff);
    return this;
  }

  /**
   * @param df the Don't Fragment flag
   * @return this builder
   */
  public Ipv4Builder dontFragment(boolean df) {
    this.dontFragment = df;
    return this;
  }

  /**
   * @param mf the More Fragments flag (makes the datagram a fragment)
   * @return this builder
   */
  public Ipv4Builder moreFragments(boolean mf) {
    this.moreFragments = mf;
    return this;
  }

  /**
   * @param set the reserved flag bit, for tests of what happens to it
   * @return this builder
   */
  public Ipv4Builder reservedFlag(boolean set) {
    this.reservedFlag = set;
    return this;
  }

  /**
   * @param offsetBytes fragment offset in bytes, a multiple of 8 in 0..65528 (non-zero makes the
   *     datagram a fragment)
   * @return this builder
   */
  public Ipv4Builder fragmentOffset(int offsetBytes) {
    if (offsetBytes < 0 || offsetBytes > 65528 || (offsetBytes & 7) != 0) {
      throw new IllegalArgumentException(
          "fragment offset must be a multiple of 8 in 0..65528: " + offsetBytes);
    }
    this.fragmentOffset = offsetBytes;
    return this;
  }

  /**
   * @param options IP options, at most 40 bytes, copied; padded with zero bytes (End of Option
   *     List) to a multiple of 4. They are not parsed.
   * @return this builder
   */
  public Ipv4Builder options(byte[] options) {
    if (options.length > Ipv4View.MAX_HEADER_LENGTH - Ipv4View.MIN_HEADER_LENGTH) {
      throw new IllegalArgumentException("IP options are at most 40 bytes: " + options.length);
    }
    this.options = Arrays.copyOf(options, options.length + 3 & ~3);
    return this;
  }

  /**
   * @param payload the transport data (or the whole IP payload for {@link #raw}), copied
   * @return this builder
   */
  public Ipv4Builder payload(byte[] payload) {
    transport.payload(payload);
    return this;
  }

  /**
   * @param payload the bytes from its position to its limit, copied; position unchanged
   * @return this builder
   */
  public Ipv4Builder payload(ByteBuffer payload) {
    transport.payload(payload);
    return this;
  }

  /**
   * @param length a payload of this many bytes counting up from 0 (mod 256), handy for tests
   * @return this builder
   */
  public Ipv4Builder payloadLength(int length) {
    transport.payloadLength(length, Ipv4View.MAX_LENGTH);
    return this;
  }

  /**
   * @param seq the TCP sequence number, 0..2^32-1
   * @return this builder
   * @throws IllegalStateException if this is not a TCP builder
   */
  public Ipv4Builder sequence(long seq) {
    transport.sequence(seq);
    return this;
  }

  /**
   * @param ack the TCP acknowledgment number, 0..2^32-1
   * @return this builder
   * @throws IllegalStateException if this is not a TCP builder
   */
  public Ipv4Builder acknowledgment(long ack) {
    transport.acknowledgment(ack);
    return this;
  }

  /**
   * @param flags TCP flags, e.g. {@code TCP_SYN | TCP_ACK}, 0..255
   * @return this builder
   * @throws IllegalStateException if this is not a TCP builder
   */
  public Ipv4Builder tcpFlags(int flags) {
    transport.tcpFlags(flags);
    return this;
  }

  /**
   * @param window the TCP window, 0..65535
   * @return this builder
   * @throws IllegalStateException if this is not a TCP builder
   */
  public Ipv4Builder window(int window) {
    transport.window(window);
    return this;
  }

  /**
   * @return the length in bytes of the datagram {@link #build()} would produce
   */
  public int length() {
    return Ipv4View.MIN_HEADER_LENGTH + options.length + transport.length();
  }

  /**
   * Builds the datagram into a new heap buffer.
   *
   * @return the datagram, position 0, limit its length; owned by the caller
   * @throws IllegalStateException if the datagram would exceed 65535 bytes
   */
  public ByteBuffer build() {
    ByteBuffer b = ByteBuffer.allocate(checkedLength());
    writeTo(b, 0);
    return b;
  }

  /**
   * Writes the datagram at {@code dst.position()} and advances the position past it, like a
   * relative put.
   *
   * @param dst the buffer to write into
   * @return the number of bytes written
   * @throws IllegalStateException if the datagram would exceed 65535 bytes
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
   * Writes the datagram at index {@code offset} with absolute puts; the buffer's position and limit
   * are unchanged.
   *
   * @param dst the buffer to write into
   * @param offset index of the first byte
   * @return the number of bytes written
   * @throws IllegalStateException if the datagram would exceed 65535 bytes
   * @throws IndexOutOfBoundsException if it does not fit below {@code dst.limit()}
   */
  public int writeTo(ByteBuffer dst, int offset) {
    int n = checkedLength();
    Objects.checkFromIndexSize(offset, n, dst.limit());
    int hl = Ipv4View.MIN_HEADER_LENGTH + options.length;
    Bytes.put8(dst, offset, 0x40 | hl >>> 2);
    Bytes.put8(dst, offset + 1, tos);
    Bytes.put16(dst, offset + 2, n);
    Bytes.put16(dst, offset + 4, identification);
    Bytes.put16(
        dst,
        offset + 6,
        (reservedFlag ? 0x8000 : 0)
            | (dontFragment ? 0x4000 : 0)
            | (moreFragments ? 0x2000 : 0)
            | fragmentOffset >>> 3);
    Bytes.put8(dst, offset + 8, ttl);
    Bytes.put8(dst, offset + 9, protocol);
    Bytes.put16(dst, offset + 10, 0);
    Bytes.put32(dst, offset + 12, source);
    Bytes.put32(dst, offset + 16, destination);
    dst.put(offset + Ipv4View.MIN_HEADER_LENGTH, options);
    int t = offset + hl;
    transport.writeTo(dst, t);
    if (transport.kind != TransportPart.Kind.RAW && !moreFragments && fragmentOffset == 0) {
      Checksums.fillTransport(dst, offset);
    }
    Checksums.fillIpv4Header(dst, offset);
    return n;
  }

  private int checkedLength() {
    int n = length();
    if (n > Ipv4View.MAX_LENGTH) {
      throw new IllegalStateException(
          "the datagram would be " + n + " bytes, over the IPv4 maximum of 65535");
    }
    return n;
  }

  private static int check(String what, int value, int max) {
    if (value < 0 || value > max) {
      throw new IllegalArgumentException(what + " must be 0.." + max + ": " + value);
    }
    return value;
  }
}
