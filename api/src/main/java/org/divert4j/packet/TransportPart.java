package org.divert4j.packet;

import java.nio.ByteBuffer;

/**
 * The transport part that {@link Ipv4Builder} and {@link Ipv6Builder} write after their IP headers:
 * which kind of header (UDP, TCP with no options, ICMP or ICMPv6 echo, or none), its fields and the
 * payload. The checksum field is left 0; each builder fills it with its own pseudo-header. Not
 * thread-safe, like the builders.
 */
final class TransportPart {
  /** The transport header a builder writes, with its length. */
  enum Kind {
    UDP(8),
    TCP(20),
    ICMP(8),
    RAW(0);

    final int headerLength;

    Kind(int headerLength) {
      this.headerLength = headerLength;
    }
  }

  private static final byte[] EMPTY = new byte[0];

  final Kind kind;
  private byte[] payload = EMPTY;
  // Ports (UDP, TCP); type, identifier, sequence (ICMP echo); TCP state.
  private int sourcePort;
  private int destinationPort;
  private int icmpType;
  private int icmpIdentifier;
  private int icmpSequence;
  private long sequence;
  private long acknowledgment;
  private int tcpFlags;
  private int window = 65535;

  private TransportPart(Kind kind) {
    this.kind = kind;
  }

  /** A UDP or TCP part; the ports are 0..65535. */
  static TransportPart withPorts(Kind kind, int sourcePort, int destinationPort) {
    TransportPart t = new TransportPart(kind);
    t.sourcePort = check("source port", sourcePort, 0xffff);
    t.destinationPort = check("destination port", destinationPort, 0xffff);
    return t;
  }

  /** An ICMP or ICMPv6 echo of a type; identifier and sequence are 0..65535. */
  static TransportPart echo(int type, int identifier, int sequence) {
    TransportPart t = new TransportPart(Kind.ICMP);
    t.icmpType = type;
    t.icmpIdentifier = check("identifier", identifier, 0xffff);
    t.icmpSequence = check("sequence", sequence, 0xffff);
    return t;
  }

  /** No transport header: the payload is written as given. */
  static TransportPart raw() {
    return new TransportPart(Kind.RAW);
  }

  void payload(byte[] payload) {
    this.payload = payload.clone();
  }

  void payload(ByteBuffer payload) {
    byte[] p = new byte[payload.remaining()];
    payload.get(payload.position(), p);
    this.payload = p;
  }

  /** A payload of {@code length} bytes counting up from 0 (mod 256), at most {@code max}. */
  void payloadLength(int length, int max) {
    check("payload length", length, max);
    byte[] p = new byte[length];
    for (int i = 0; i < length; i++) {
      p[i] = (byte) i;
    }
    this.payload = p;
  }

  void sequence(long seq) {
    requireTcp();
    this.sequence = checkU32("sequence", seq);
  }

  void acknowledgment(long ack) {
    requireTcp();
    this.acknowledgment = checkU32("acknowledgment", ack);
  }

  void tcpFlags(int flags) {
    requireTcp();
    this.tcpFlags = check("TCP flags", flags, 0xff);
  }

  void window(int window) {
    requireTcp();
    this.window = check("window", window, 0xffff);
  }

  /** The header plus the payload, in bytes. */
  int length() {
    return kind.headerLength + payload.length;
  }

  /** Writes the header (checksum 0) and the payload at {@code t}. */
  void writeTo(ByteBuffer dst, int t) {
    switch (kind) {
      case UDP:
        Bytes.put16(dst, t, sourcePort);
        Bytes.put16(dst, t + 2, destinationPort);
        Bytes.put16(dst, t + 4, kind.headerLength + payload.length);
        Bytes.put16(dst, t + 6, 0);
        break;
      case TCP:
        Bytes.put16(dst, t, sourcePort);
        Bytes.put16(dst, t + 2, destinationPort);
        Bytes.put32(dst, t + 4, (int) sequence);
        Bytes.put32(dst, t + 8, (int) acknowledgment);
        Bytes.put8(dst, t + 12, 5 << 4); // data offset: 5 words, no TCP options
        Bytes.put8(dst, t + 13, tcpFlags);
        Bytes.put16(dst, t + 14, window);
        Bytes.put32(dst, t + 16, 0); // checksum and urgent pointer
        break;
      case ICMP:
        Bytes.put8(dst, t, icmpType);
        Bytes.put8(dst, t + 1, 0);
        Bytes.put16(dst, t + 2, 0);
        Bytes.put16(dst, t + 4, icmpIdentifier);
        Bytes.put16(dst, t + 6, icmpSequence);
        break;
      case RAW:
        break;
    }
    dst.put(t + kind.headerLength, payload);
  }

  private void requireTcp() {
    if (kind != Kind.TCP) {
      throw new IllegalStateException("not a TCP builder: " + kind);
    }
  }

  private static long checkU32(String what, long value) {
    if (value < 0 || value > 0xffffffffL) {
      throw new IllegalArgumentException(what + " must be 0..4294967295: " + value);
    }
    return value;
  }

  static int check(String what, int value, int max) {
    if (value < 0 || value > max) {
      throw new IllegalArgumentException(what + " must be 0.." + max + ": " + value);
    }
    return value;
  }
}
