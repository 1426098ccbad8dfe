package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import net.jqwik.api.lifecycle.PropagationMode;
import net.jqwik.api.statistics.Statistics;
import org.divert4j.fuzz.FuzzRun;
import org.divert4j.fuzz.Mutants;

/**
 * Fuzzing of the netlink receive path without root: datagrams of NFQUEUE messages as the kernel
 * sends them (the captured vectors of {@link NfqCodecTest} and messages built like {@code
 * nfqnl_build_packet_message}), mutated in their length and type fields, attribute headers and
 * payloads, truncated, concatenated with garbage, and walked by {@link NfqCodec.Walk}, the code
 * {@link NfqChannel#next} runs per received datagram. Whatever the bytes: no exception, every
 * decoded packet's payload lies inside the datagram, and the walk ends. Tries: 10,000 datagrams in
 * the short run, 250,000 with {@code -Ddivert.reliability=long}.
 */
@AddLifecycleHook(value = FuzzRun.class, propagateTo = PropagationMode.DIRECT_DESCENDANTS)
class NfqCodecFuzzPropertyTest {
  private static final byte[][] VECTORS = {
    HexFormat.of().parseHex(NfqCodecTest.ACK),
    HexFormat.of().parseHex(NfqCodecTest.PREROUTING),
    HexFormat.of().parseHex(NfqCodecTest.POSTROUTING),
    HexFormat.of().parseHex(NfqCodecTest.ENOENT),
  };

  /** A packet message as nfqnl_build_packet_message writes one, around a mutated IP packet. */
  static byte[] packetMessage(Random r) {
    byte[] ip = Mutants.make(r).bytes();
    ByteBuffer b = ByteBuffer.allocate(200 + ip.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putShort(4, (short) NfqCodec.type(NfqCodec.NFQNL_MSG_PACKET));
    b.putShort(18, Short.reverseBytes((short) r.nextInt(65536)));
    int p = 20;
    p = attr(b, p, NfqCodec.NFQA_PACKET_HDR, 7, r);
    if (r.nextBoolean()) {
      p = attr(b, p, NfqCodec.NFQA_MARK, 4, r);
    }
    p =
        attr(
            b,
            p,
            r.nextBoolean() ? NfqCodec.NFQA_IFINDEX_INDEV : NfqCodec.NFQA_IFINDEX_OUTDEV,
            4,
            r);
    if (r.nextBoolean()) {
      p = attr(b, p, NfqCodec.NFQA_TIMESTAMP, 16, r);
    }
    if (r.nextInt(4) == 0) {
      p = attr(b, p, NfqCodec.NFQA_CAP_LEN, 4, r);
    }
    int payload = Math.min(ip.length, NfqCodec.MAX_COPY_RANGE);
    b.putShort(p, (short) (4 + payload));
    b.putShort(p + 2, (short) NfqCodec.NFQA_PAYLOAD);
    b.put(p + 4, ip, 0, payload);
    p = NfqCodec.align(p + 4 + payload);
    b.putInt(0, p);
    byte[] m = new byte[p];
    b.get(0, m);
    return m;
  }

  private static int attr(ByteBuffer b, int p, int type, int len, Random r) {
    b.putShort(p, (short) (4 + len));
    b.putShort(p + 2, (short) (type | (r.nextInt(8) == 0 ? 0x8000 : 0)));
    for (int i = 0; i < len; i++) {
      b.put(p + 4 + i, (byte) r.nextInt());
    }
    return NfqCodec.align(p + 4 + len);
  }

  /** One mutation of a message, aimed at the fields the walk and the decoder trust. */
  static byte[] mutate(Random r, byte[] m) {
    ByteBuffer b = ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN);
    int n = m.length;
    switch (r.nextInt(8)) {
      case 0 -> { // nlmsg_len: anything, including huge and negative
        if (n >= 4) {
          int[] lens = {r.nextInt(), 0, 15, 16, 19, 20, n - 1, n + 1, Integer.MAX_VALUE, -1};
          b.putInt(0, lens[r.nextInt(lens.length)]);
        }
      }
      case 1 -> { // nlmsg_type
        if (n >= 6) {
          int[] types = {NfqCodec.NLMSG_ERROR, NfqCodec.NLMSG_DONE, NfqCodec.NLMSG_NOOP, 0x300};
          b.putShort(4, (short) (r.nextBoolean() ? types[r.nextInt(4)] : r.nextInt(65536)));
        }
      }
      case 2 -> { // an attribute header: nla_len 0..65535, any type
        int at = 20 + 4 * r.nextInt(Math.max(1, (n - 20) / 4));
        if (at + 4 <= n) {
          int[] lens = {0, 3, 4, 5, 8, r.nextInt(65536), 65535};
          b.putShort(at, (short) lens[r.nextInt(lens.length)]);
          b.putShort(at + 2, (short) r.nextInt(65536));
        }
      }
      case 3 -> { // truncate
        return java.util.Arrays.copyOf(m, r.nextInt(n + 1));
      }
      case 4 -> { // flip bits
        for (int k = 1 + r.nextInt(6); k > 0 && n > 0; k--) {
          m[r.nextInt(n)] ^= (byte) (1 << r.nextInt(8));
        }
      }
      case 5 -> { // an error message too short for its fields
        if (n >= 16) {
          b.putShort(4, (short) NfqCodec.NLMSG_ERROR);
          b.putInt(0, 16 + r.nextInt(16));
        }
      }
      default -> { // random bytes
        r.nextBytes(m);
      }
    }
    return m;
  }

  /**
   * A received datagram: a few messages, some mutated, placed at the end of a slot-sized buffer.
   */
  static ByteBuffer datagram(Random r, int[] bounds) {
    List<byte[]> msgs = new ArrayList<>();
    for (int k = 1 + r.nextInt(5); k > 0; k--) {
      byte[] m = r.nextInt(3) == 0 ? VECTORS[r.nextInt(VECTORS.length)].clone() : packetMessage(r);
      for (int j = r.nextInt(3); j > 0; j--) {
        m = mutate(r, m);
      }
      msgs.add(m);
    }
    int total = 0;
    for (byte[] m : msgs) {
      total += NfqCodec.align(m.length);
    }
    // The datagram ends exactly at the buffer's end half the time, so that any read past the
    // received bytes is an IndexOutOfBoundsException rather than a silent read of stale bytes.
    int start = r.nextInt(3) * 4;
    int slack = r.nextBoolean() ? 0 : r.nextInt(64);
    ByteBuffer b = ByteBuffer.allocateDirect(start + total + slack).order(ByteOrder.LITTLE_ENDIAN);
    int p = start;
    for (byte[] m : msgs) {
      b.put(p, m);
      p += NfqCodec.align(m.length);
    }
    bounds[0] = start;
    bounds[1] = start + total;
    return b;
  }

  @Property
  @FuzzRun.Tries(shortRun = 10_000, longRun = 250_000)
  void theReceiveWalkTakesAnyDatagram(@ForAll long seed) {
    Random r = new Random(seed);
    int[] bounds = new int[2];
    ByteBuffer b = datagram(r, bounds);
    NfqCodec.Walk walk = new NfqCodec.Walk();
    walk.reset(bounds[0], bounds[1]);
    NfqPacket p = new NfqPacket();
    int packets = 0;
    int steps = 0;
    while (walk.next(b, p)) {
      packets++;
      assertTrue(++steps <= bounds[1] / 16 + 1, "the walk advances");
      assertTrue(p.payloadLength >= 0);
      if (p.payloadLength > 0) { // (a message without NFQA_PAYLOAD decodes as 0 bytes at 0)
        assertTrue(p.payloadOffset >= bounds[0], "payload inside the datagram");
        assertTrue(p.payloadOffset + p.payloadLength <= bounds[1], "payload inside the datagram");
      }
      assertTrue(p.capturedLength >= p.payloadLength);
      assertTrue(p.hook >= 0 && p.hook <= 255);
    }
    assertEquals(bounds[1], walk.position(), "the walk ends at the datagram's end");
    assertTrue(!walk.next(b, p), "and stays there");
    Statistics.label("packets").collect(Math.min(packets, 3));
  }

  @Property
  @FuzzRun.Tries(shortRun = 10_000, longRun = 250_000)
  void wholeMessageLengthNeverOverflows(@ForAll long seed) {
    Random r = new Random(seed);
    ByteBuffer b = ByteBuffer.allocateDirect(64).order(ByteOrder.LITTLE_ENDIAN);
    int off = r.nextInt(48);
    int len = r.nextBoolean() ? r.nextInt() : Integer.MAX_VALUE - r.nextInt(64);
    b.putInt(off, len);
    int end = off + r.nextInt(64 - off + 1);
    int got = NfqCodec.wholeMessageLength(b, off, end);
    boolean whole = len >= NfqCodec.NLMSG_HDRLEN && (long) off + len <= end;
    assertEquals(whole ? len : -1, got);
  }
}
