package org.divert4j.packet;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * Real packets sent by the Linux kernel (6.x, veth, MTU 1500), captured with tcpdump by {@code
 * src/test/resources/org/divert4j/packet/capture-vectors.sh} inside two throw-away network
 * namespaces, with TX checksum offload off so that TCP/UDP checksums are final. The small ones are
 * spelled out here as hex (IP header first, Ethernet header stripped); the whole capture, with the
 * kernel-fragmented datagrams, is {@code kernel-capture.pcap} beside the script ({@link
 * #capture()}, numbered from 1 as below).
 */
final class KernelVectors {
  private KernelVectors() {}

  /** #1 ping 10.9.0.2: ICMP echo request, DF, 84 bytes. */
  static final String ICMP_ECHO_REQUEST =
      "45000054f26940004001342b0a0900010a0900020800f1211d930001f3f5096b00000000281605000000"
          + "0000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";

  /** #3 ping -R: echo request with IHL 15, options NOP + Record Route (39 bytes, one address). */
  static final String ICMP_RECORD_ROUTE_REQUEST =
      "4f00007cf26a40004001f7e80a0900010a090002010727080a0900010000000000000000000000000000"
          + "000000000000000000000000000000000000080072d31d940001f3f5096b00000000a66305000000"
          + "0000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";

  /** #4 the reply to #3: Record Route with three addresses, then End of Option List. */
  static final String ICMP_RECORD_ROUTE_REPLY =
      "4f00007cf0e60000400134410a0900020a0900010727100a0900010a0900020a09000200000000000000"
          + "00000000000000000000000000000000000000007ad31d940001f3f5096b00000000a66305000000"
          + "0000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";

  /** #15 UDP 10.9.0.1:40000 to 10.9.0.2:9999, 24 data bytes "divert4j udp test vector". */
  static final String UDP =
      "45000034307340004011f6310a0900010a0900029c40270f0020de62646976657274346a2075647020"
          + "7465737420766563746f72";

  /** #16 UDP with 3 data bytes "odd": an odd-length checksum range. */
  static final String UDP_ODD = "4500001f307440004011f6450a0900010a0900029c40270f000b550f6f6464";

  /** #20 TCP SYN with options MSS 1460, SACK permitted, timestamps, NOP, window scale 10. */
  static final String TCP_SYN =
      "4500003c24aa4000400601fe0a0900010a0900029d481f907d0a1ffe00000000a002faf0d8f500000204"
          + "05b40402080a05df0042000000000103030a";

  /** #21 the SYN-ACK: IP identification 0 with DF (Linux ip_select_ident for DF packets). */
  static final String TCP_SYN_ACK =
      "4500003c00004000400626a80a0900020a0900011f909d481e491a097d0a1fffa012fe88bc2a00000204"
          + "05b40402080a141eccb105df00420103030a";

  /** #23 TCP PSH/ACK with 5 data bytes "hello": 57 bytes, odd. */
  static final String TCP_DATA =
      "4500003924ac4000400601ff0a0900010a0900029d481f907d0a1fff1e491a0a8018003fa56400000101"
          + "080a05df0042141eccb168656c6c6f";

  /** Indexes (from 1) of kernel-fragmented datagrams in the capture. */
  static final int[] PING_3000_FRAGMENTS = {5, 6, 7};

  static final int[] PING_3000_REPLY_FRAGMENTS = {8, 9, 10};

  /** ping -R -s 2000: the second fragment keeps IHL 15 with the RR option replaced by NOPs. */
  static final int[] PING_RR_2000_FRAGMENTS = {11, 12};

  static final int[] UDP_4000_FRAGMENTS = {17, 18, 19};

  static List<ByteBuffer> capture() {
    return TestPackets.readPcap("kernel-capture.pcap");
  }

  static ByteBuffer[] pick(int... numbers) {
    List<ByteBuffer> all = capture();
    ByteBuffer[] out = new ByteBuffer[numbers.length];
    for (int i = 0; i < numbers.length; i++) {
      out[i] = all.get(numbers[i] - 1);
    }
    return out;
  }
}
