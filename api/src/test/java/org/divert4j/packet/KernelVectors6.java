package org.divert4j.packet;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * Real IPv6 packets sent by the Linux kernel (6.18, veth, MTU 1280), captured with tcpdump by
 * {@code src/test/resources/org/divert4j/packet/capture-vectors6.sh} inside two throw-away network
 * namespaces with TX checksum offload off, so that TCP/UDP/ICMPv6 checksums are the kernel's final
 * values (tcpdump -v reported each as correct). Indexes into {@link #capture()} are below.
 */
final class KernelVectors6 {
  private KernelVectors6() {}

  /** Echo request fd00:9::1 > fd00:9::2, 16 data bytes. */
  static final int ECHO_REQUEST = 2;

  /** The first of three fragments of a 3000-byte echo request (0|1232, 1232|1232, 2464|544). */
  static final int ECHO_3000_FIRST = 4;

  /** The first of three fragments of the echo reply to it. */
  static final int ECHO_REPLY_3000_FIRST = 7;

  /** UDP 40000 > 9999, 3 data bytes "odd". */
  static final int UDP_ODD = 10;

  /** UDP 40001 > 9999 "ext" behind a hop-by-hop (Router Alert, PadN) and a dest-options header. */
  static final int UDP_EXTENSION_HEADERS = 11;

  /** The first of four fragments of a 4008-byte UDP datagram (the last at 3696, 312 bytes). */
  static final int UDP_4000_FIRST = 12;

  /** TCP SYN 8080, with MSS, SACK, timestamps and window scale. */
  static final int TCP_SYN = 16;

  /** The SYN-ACK to it. */
  static final int TCP_SYN_ACK = 17;

  /** The hex of {@link #UDP_EXTENSION_HEADERS}, as tcpdump -x printed it. */
  static final String UDP_EXT_HEX =
      "6001f49d001b0040fd000009000000000000000000000001fd000009000000000000000000000002"
          + "3c000502000001001100010400000000"
          + "9c41270f000b68f8657874";

  static List<ByteBuffer> capture() {
    return TestPackets.readPcap("kernel-capture6.pcap");
  }
}
