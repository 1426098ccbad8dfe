package org.divert4j.packet;

import java.nio.ByteBuffer;
import java.util.function.LongSupplier;
import org.divert4j.DropReason;

/**
 * Reassembles IPv6 datagrams from their fragments (RFC 8200 section 4.5), with bounded memory,
 * per-datagram timeouts on an injected clock, and RFC 5722's overlap rule (SEMANTICS.md S58, S63).
 * The design, bounds and counters are those of the IPv4 {@link Reassembler}; its description holds
 * here with the differences below. The two are separate instances with separate tables, so the
 * families never share a reassembly buffer or an identification space (S63).
 *
 * <p><b>Keys.</b> Fragments belong together when source, destination and the 32-bit Identification
 * match (RFC 8200).
 *
 * <p><b>What {@link #offer} does with a packet</b>, in this order:
 *
 * <ol>
 *   <li>Runs {@link #expire()}.
 *   <li>A packet that fails {@link Ipv6View#check()} is dropped and counted {@link
 *       DropReason#REASSEMBLY_INVALID} (its datagram, if any, is left alone). Notably the check
 *       refuses an M fragment whose payload is not a multiple of 8 and a fragment whose offset plus
 *       payload exceeds 65535 (RFC 8200 section 4.5).
 *   <li>A packet with no Fragment header, or an atomic fragment (offset 0, M 0: RFC 6946), is
 *       returned as is: the same buffer object, untouched, never mixed with other fragments.
 *   <li>A fragment of a datagram discarded earlier is dropped and counted under that reason.
 *   <li>An exact duplicate (same offset and length as a held fragment) is ignored and counted by
 *       {@link #duplicates()}, as Linux does ({@code IPFRAG_DUP}).
 *   <li>These discard the whole datagram, held fragments and this one included: any other overlap
 *       ({@link DropReason#REASSEMBLY_OVERLAP}, RFC 5722); a fragment inconsistent with the
 *       datagram ({@link DropReason#REASSEMBLY_INVALID}: a zero-length fragment, a last fragment
 *       that ends before data held or where another last fragment said the datagram ends, an M
 *       fragment past that end, a reassembled payload over 65535 bytes); the memory or datagram
 *       bound ({@link DropReason#REASSEMBLY_MEMORY}).
 *   <li>Otherwise the fragment is held; the complete datagram is returned.
 * </ol>
 *
 * <p><b>The reassembled datagram</b> is a new heap buffer, position 0, limit its length, owned by
 * the caller: the first fragment's unfragmentable part (the IPv6 header and the extension headers
 * before its Fragment header), whose last Next Header field now names what the Fragment header
 * named, then the fragmentable part; no Fragment header, and the payload length of the whole (S58).
 * Trailing bytes after a fragment's payload length are not part of it.
 *
 * <p><b>Memory.</b> As {@link Reassembler}, and the first fragment's unfragmentable part, kept in
 * an array of its own, is charged with that fragment.
 *
 * <p><b>Threads.</b> Not thread-safe: confine an instance to one thread. No method blocks. Nothing
 * throws for any packet content.
 */
public final class Ipv6Reassembler {
  /** Bytes counted per held fragment on top of its payload; as {@link Reassembler}. */
  public static final int FRAGMENT_OVERHEAD = Reassembler.FRAGMENT_OVERHEAD;

  private final FragmentQueues q;
  private final Ipv6View view = new Ipv6View();

  /**
   * Creates a reassembler; the arguments are those of {@link Reassembler#Reassembler}.
   *
   * @param memoryBytes the most bytes held at once; positive
   * @param maxDatagrams the most datagrams in flight at once, 1..{@link
   *     Reassembler#MAX_DATAGRAMS_LIMIT}
   * @param timeoutNanos how long a datagram may wait for its fragments, from its first; positive
   *     (Linux {@code ip6frag_time} is 60 s)
   * @param clock monotonic time in nanoseconds
   * @throws IllegalArgumentException if a bound is out of range
   */
  public Ipv6Reassembler(
      long memoryBytes, int maxDatagrams, long timeoutNanos, LongSupplier clock) {
    this.q = new FragmentQueues(memoryBytes, maxDatagrams, timeoutNanos, clock);
  }

  /**
   * Takes one packet; see the class description for everything that can happen to it.
   *
   * @param packet an IPv6 packet from its position to its limit; read only, position and limit
   *     unchanged; its bytes are copied when held
   * @return null if the packet was held, ignored or dropped; {@code packet} itself if it is not a
   *     fragment (or is an atomic one); or the complete datagram in a new buffer owned by the
   *     caller
   * @throws NullPointerException if {@code packet} is null
   */
  public ByteBuffer offer(ByteBuffer packet) {
    long now = q.expireNow();
    Ipv6View v = view.wrap(packet);
    if (v.check() != null) {
      q.invalid();
      return null;
    }
    if (!v.isFragment()) {
      return packet;
    }
    int base = v.offset();
    // key: source, destination and the 32-bit Identification (RFC 8200)
    FragmentQueues.Entry e =
        q.datagram(
            u64(packet, base + 8),
            u64(packet, base + 16),
            u64(packet, base + 24),
            u64(packet, base + 32),
            v.fragmentIdentification(),
            now);
    if (e == null) {
      return null;
    }
    int fh = v.fragmentHeaderOffset();
    int unfrag = fh - base;
    int off = v.fragmentOffset();
    int from = fh + Ipv6View.FRAGMENT_HEADER_LENGTH;
    int len = base + Ipv6View.HEADER_LENGTH + v.payloadLength() - from;
    // Every fragment carries the unfragmentable part; the first fragment's is the one kept.
    int held = off != 0 && e.headLength > 0 ? e.headLength : unfrag;
    FragmentQueues.Outcome o =
        q.add(
            e,
            off,
            packet,
            from,
            len,
            v.moreFragments(),
            held,
            Ipv6View.HEADER_LENGTH + Ipv6View.MAX_PAYLOAD_LENGTH,
            off == 0 ? unfrag : 0,
            base,
            unfrag);
    if (off == 0 && (o == FragmentQueues.Outcome.HELD || o == FragmentQueues.Outcome.COMPLETE)) {
      e.aux = previousNextHeader(packet, base, fh);
      e.aux2 = Bytes.u8(packet, fh);
    }
    return o == FragmentQueues.Outcome.COMPLETE ? complete(e) : null;
  }

  /** Eight bytes big-endian, whatever the buffer's order (fragments may come in either). */
  private static long u64(ByteBuffer b, int i) {
    return (long) Bytes.i32(b, i) << 32 | (Bytes.i32(b, i + 4) & 0xffffffffL);
  }

  /** Where the Next Header field that names the Fragment header at {@code fh} is, from base. */
  private static int previousNextHeader(ByteBuffer p, int base, int fh) {
    int field = 6;
    int at = base + Ipv6View.HEADER_LENGTH;
    while (at < fh) { // only hop-by-hop, routing and destination options lie before it
      field = at - base;
      at += (Bytes.u8(p, at + 1) + 1) << 3;
    }
    return field;
  }

  /**
   * Discards every datagram whose timeout has passed, counting its fragments as {@link
   * DropReason#REASSEMBLY_TIMEOUT}, and forgets discarded keys whose timeout has passed.
   *
   * @return the number of incomplete datagrams discarded
   */
  public int expire() {
    return q.expire();
  }

  /**
   * @param reason a drop reason; only the four {@code REASSEMBLY_*} reasons are ever counted here
   * @return packets dropped for that reason so far
   */
  public long discarded(DropReason reason) {
    return q.discarded(reason);
  }

  /**
   * @return exact duplicate fragments ignored so far
   */
  public long duplicates() {
    return q.duplicates();
  }

  /**
   * @return bytes held now; never more than the memory bound
   */
  public long bytesHeld() {
    return q.bytesHeld();
  }

  /**
   * @return incomplete datagrams being reassembled now
   */
  public int datagramsInFlight() {
    return q.datagramsInFlight();
  }

  /**
   * @return datagrams completed and returned so far
   */
  public long reassembled() {
    return q.reassembled();
  }

  @Override
  public String toString() {
    return "Ipv6Reassembler(" + q + ")";
  }

  private ByteBuffer complete(FragmentQueues.Entry e) {
    int unfrag = e.headLength;
    int total = unfrag + e.totalEnd;
    ByteBuffer out = ByteBuffer.allocate(total);
    byte[] a = out.array();
    System.arraycopy(e.head, 0, a, 0, unfrag);
    FragmentQueues.assemble(e, a, unfrag);
    Bytes.put16(out, 4, total - Ipv6View.HEADER_LENGTH);
    Bytes.put8(out, e.aux, e.aux2);
    q.finish(e);
    return out;
  }
}
