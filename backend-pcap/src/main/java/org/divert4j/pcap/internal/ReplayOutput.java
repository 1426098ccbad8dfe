package org.divert4j.pcap.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.function.Consumer;
import org.divert4j.DivertException;
import org.divert4j.packet.FragmentSink;
import org.divert4j.packet.Fragmenter;
import org.divert4j.packet.Ipv6Fragmenter;

/**
 * The last step of a {@link SavefileReplay}'s path: what the engine delivers to the local host or
 * sends on the wire of {@code pcap0} is written to the output capture, in the order it passes.
 * Delivered packets larger than {@code pcap.mtu} are cut into fragments first (an IPv6 packet with
 * an Identification of the replay's own); an IPv4 packet with DF, or one that cannot be cut, is
 * written whole. A packet gets a link header from {@link LinkLayer}, and the timestamp of the input
 * packet it comes from ({@link TimestampTable}) or else the replay clock; the input packet that is
 * in the engine now, passed on unchanged, is written as its own frame. Frames that are not IP are
 * copied through as read.
 *
 * <p>Used inside the engine's section only, but for {@link #stop()}. Allocates nothing per packet.
 * A failed write is handed to the replay's failure and the replay goes on.
 */
final class ReplayOutput {
  private final DumpFile out;
  private final LinkLayer l2;
  private final TimestampTable timestamps;
  private final ByteBuffer view;
  private final int mtu;
  private final Consumer<IOException> failures;
  private final Ipv6Fragmenter fragmenter6 = new Ipv6Fragmenter();
  private int fragmentId6;
  // The IPv6 input packet in the engine now: written as its own frame if passed on unchanged.
  private boolean current;
  private int currentLength;
  private int currentIp;
  private int currentEnd;
  private final Fragmenter fragmenter = new Fragmenter();
  private final FragmentSink toLocal = f -> write(f, LinkLayer.INBOUND);
  private long clock;
  private volatile boolean closed;

  /**
   * @param out the output capture
   * @param l2 the link layer that writes headers (and learned the input's MACs)
   * @param timestamps the input packets' timestamps
   * @param view the replay's input frame, in which the engine gets each input packet
   * @param mtu {@code pcap.mtu}
   * @param fragmentId6 the Identification before the first of the replay's own IPv6 fragments
   * @param failures told of a write that failed
   */
  ReplayOutput(
      DumpFile out,
      LinkLayer l2,
      TimestampTable timestamps,
      ByteBuffer view,
      int mtu,
      int fragmentId6,
      Consumer<IOException> failures) {
    this.out = out;
    this.l2 = l2;
    this.timestamps = timestamps;
    this.view = view;
    this.mtu = mtu;
    this.fragmentId6 = fragmentId6;
    this.failures = failures;
  }

  /** Sets the replay clock: the timestamp of the latest input packet read. */
  void clock(long ts) {
    clock = ts;
  }

  /**
   * Says which input packet is in the engine now.
   *
   * @param v6 whether it is IPv6 (only those are written as their own frame)
   * @param length the frame's length
   * @param ip where its IP header starts
   * @param end where its IP packet ends
   */
  void current(boolean v6, int length, int ip, int end) {
    current = v6;
    currentLength = length;
    currentIp = ip;
    currentEnd = end;
  }

  /** No input packet is in the engine any more. */
  void noCurrent() {
    current = false;
  }

  /** Copies the input frame through untouched, with its timestamp. */
  void copyThrough(int len, long ts) throws IOException {
    ByteBuffer f = out.frame();
    f.put(0, view, 0, len);
    out.write(ts, len);
  }

  /**
   * @return frames written so far
   */
  long written() {
    return out.written();
  }

  /** Writes out what is buffered. */
  void flush() throws IOException {
    out.flush();
  }

  /** From now on nothing is written; any thread. */
  void stop() {
    closed = true;
  }

  /** Closes the output capture. */
  void close() {
    out.close();
  }

  /** A packet the engine delivered to the local host. */
  void deliverLocal(ByteBuffer packet) {
    if ((packet.get(packet.position()) & 0xf0) == 0x60) {
      deliverLocal6(packet);
      return;
    }
    if (packet.remaining() <= mtu || (packet.get(packet.position() + 6) & 0x40) != 0) {
      write(packet, LinkLayer.INBOUND);
      return;
    }
    try {
      fragmenter.fragment(packet, mtu, toLocal);
    } catch (DivertException e) {
      write(packet, LinkLayer.INBOUND);
    }
  }

  /** As for IPv4: larger than pcap.mtu, cut with an Identification of the replay's own. */
  private void deliverLocal6(ByteBuffer packet) {
    if (packet.remaining() <= mtu) {
      write(packet, LinkLayer.INBOUND);
      return;
    }
    if (++fragmentId6 == 0) {
      fragmentId6 = 1;
    }
    try {
      fragmenter6.fragment(packet, mtu, fragmentId6, toLocal);
    } catch (DivertException e) {
      write(packet, LinkLayer.INBOUND);
    }
  }

  /**
   * Writes an IP packet going one way ({@link LinkLayer#INBOUND} or {@link LinkLayer#OUTBOUND}).
   */
  void write(ByteBuffer p, int direction) {
    if (closed) {
      return;
    }
    int pos = p.position();
    int len = p.remaining();
    long t = timestamps.lookup(p);
    ByteBuffer f = out.frame();
    if (current && p == view && pos == currentIp && p.limit() == currentEnd) {
      current = false; // the input frame itself, link header and padding as read
      int limit = view.limit(); // the bulk put checks its source range against the limit
      view.limit(view.capacity());
      f.put(0, view, 0, currentLength);
      view.limit(limit);
      try {
        out.write(t != -1 ? t : clock, currentLength);
      } catch (IOException e) {
        failures.accept(e);
      }
      return;
    }
    int hl = l2.writeHeader(f, 0, p, pos, direction);
    if (t != -1) {
      // an IPv6 packet of the input: its frame's own MACs, which its addresses may not tell
      // (a multicast listener report from ::, for one); none are remembered for IPv4
      l2.restoreMacs(f, 0, timestamps.foundSource(), timestamps.foundDestination());
    }
    f.put(hl, p, pos, len);
    try {
      out.write(t != -1 ? t : clock, hl + len);
    } catch (IOException e) {
      failures.accept(e);
    }
  }
}
