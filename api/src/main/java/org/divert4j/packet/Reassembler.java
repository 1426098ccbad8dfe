package org.divert4j.packet;

import java.nio.ByteBuffer;
import java.util.function.LongSupplier;
import org.divert4j.DropReason;

/**
 * Reassembles IPv4 datagrams from their fragments (RFC 791 section 3.2, RFC 815), with bounded
 * memory, per-datagram timeouts on an injected clock, and the overlap policy of Linux since the
 * CVE-2018-5391 fix (SEMANTICS.md S21, S24).
 *
 * <p><b>Keys.</b> Fragments belong together when source, destination, protocol and identification
 * match (RFC 791).
 *
 * <p><b>What {@link #offer} does with a packet</b>, in this order:
 *
 * <ol>
 *   <li>Runs {@link #expire()}: datagrams whose timeout has passed are discarded first.
 *   <li>A packet that fails {@link Ipv4View#check()} is dropped and counted {@link
 *       DropReason#REASSEMBLY_INVALID}; its datagram, if any, is left alone (a damaged packet is
 *       not evidence against the others). Notably the check refuses an MF fragment whose payload is
 *       not a multiple of 8 (Linux trims it instead) and a fragment whose offset plus payload
 *       exceeds 65535 (the "ping of death").
 *   <li>A packet that is not a fragment (MF clear, offset 0) is returned as is: the same buffer
 *       object, untouched.
 *   <li>A fragment of a datagram discarded earlier (see "Discarded datagrams") is dropped and
 *       counted under the reason the datagram was discarded for.
 *   <li>A fragment with the same offset and length as one already held is an exact duplicate: it is
 *       ignored and counted by {@link #duplicates()}, and the datagram goes on (Linux {@code
 *       IPFRAG_DUP}). Its bytes are not compared.
 *   <li>These discard the whole datagram, held fragments and this one included: any other overlap
 *       with a held fragment ({@link DropReason#REASSEMBLY_OVERLAP}; RFC 5722's rule for IPv6,
 *       applied to IPv4 by Linux since CVE-2018-5391, so teardrop-style attacks cannot pick which
 *       bytes win). Note that Linux is slightly more lenient: it also ignores, as a duplicate, a
 *       fragment that lies wholly inside a contiguous run already received; here only exact
 *       duplicates are. A fragment inconsistent with the datagram ({@link
 *       DropReason#REASSEMBLY_INVALID}, as Linux {@code ip_frag_queue}): a zero-length fragment; a
 *       last fragment (MF clear) that ends before data already held or where another last fragment
 *       said the datagram ends; an MF fragment past that end; a datagram that would exceed 65535
 *       bytes with the first fragment's header. A fragment that would take the held bytes over the
 *       memory bound, or start a datagram when {@code maxDatagrams} are in flight ({@link
 *       DropReason#REASSEMBLY_MEMORY}).
 *   <li>Otherwise the fragment's payload is copied and held. When the datagram is complete (the
 *       first fragment, the last fragment and every byte between have arrived) it is returned.
 * </ol>
 *
 * <p><b>The reassembled datagram</b> is a new heap buffer, position 0, limit its length, owned by
 * the caller. Its header is the first fragment's header (options included) with MF clear, offset 0,
 * total length set to the full size and a valid header checksum. DF is set if any fragment had DF
 * and the reserved flag is cleared, as Linux {@code ip_frag_reasm} does.
 *
 * <p><b>Discarded datagrams.</b> The key of a discarded datagram is remembered until the timeout of
 * that datagram, which runs from its first fragment; its later fragments are dropped on arrival
 * instead of starting a new datagram that could never complete and would hold memory until its own
 * timeout. (Linux forgets the key at once.) At most {@code maxDatagrams} keys are remembered; past
 * that, discards are simply not remembered.
 *
 * <p><b>Timeouts.</b> Each datagram expires {@code timeoutNanos} after its first fragment arrived,
 * by the injected clock (monotonic nanoseconds, like {@link System#nanoTime()}). Expiry runs on
 * every {@link #offer} and on {@link #expire()}; fragments of an expired datagram are counted
 * {@link DropReason#REASSEMBLY_TIMEOUT}.
 *
 * <p><b>Memory bounds.</b> {@link #bytesHeld()} counts each held fragment as its payload length
 * plus {@link #FRAGMENT_OVERHEAD} bytes (a byte array header, index slots and the stored first
 * header), and never exceeds {@code memoryBytes}: this is close to the real heap use, because each
 * fragment's payload is copied into an array of exactly its size. At most {@code maxDatagrams}
 * datagrams are in flight, and at most as many discarded keys are remembered, so the bookkeeping
 * outside that count is bounded by {@code maxDatagrams} too: up to {@code 2 * maxDatagrams} pooled
 * key objects of about 300 bytes each (index arrays that grew past 64 fragments are dropped when a
 * datagram ends) and a hash table of at most {@code 8 * maxDatagrams} references. Pick {@code
 * maxDatagrams} with that in mind (Linux has no count bound, only memory). Freed fragment arrays
 * are cached for reuse (at most 64 arrays and 256 KiB), so that steady traffic allocates little
 * more than the datagrams it returns. A 65535-byte datagram in 8-byte fragments needs 8189
 * fragments, about 590 KB by this count: the bound decides whether such a datagram can be
 * reassembled at all.
 *
 * <p><b>Counting.</b> {@link #discarded(DropReason)} counts packets (fragments), like the drop
 * counters of {@link org.divert4j.HostStats}: a datagram discarded with three fragments held counts
 * four (the three and the one that caused it). Duplicates count separately.
 *
 * <p><b>Threads.</b> Not thread-safe: confine an instance to one thread (or lock around it). No
 * method blocks. Nothing here throws for any packet content; only the argument checks of the
 * constructor and a null packet throw.
 */
public final class Reassembler {
  /**
   * Bytes counted per held fragment on top of its payload, for the bookkeeping that holding it
   * costs (array header, index slots, share of the stored first header). Linux charges the skb
   * truesize in the same spirit.
   */
  public static final int FRAGMENT_OVERHEAD = 64;

  /** The largest {@code maxDatagrams} accepted. */
  public static final int MAX_DATAGRAMS_LIMIT = 1 << 24;

  private static final int DF = 0x4000;

  private final FragmentQueues q;
  private final Ipv4View view = new Ipv4View();

  /**
   * Creates a reassembler.
   *
   * @param memoryBytes the most bytes held at once, counted as in "Memory bounds" above; positive
   * @param maxDatagrams the most datagrams in flight at once, 1..{@link #MAX_DATAGRAMS_LIMIT}
   * @param timeoutNanos how long a datagram may wait for its fragments, from its first; positive
   *     (Linux {@code ipfrag_time} is 30 s)
   * @param clock monotonic time in nanoseconds, e.g. {@code System::nanoTime} or a test clock
   * @throws IllegalArgumentException if a bound is out of range
   */
  public Reassembler(long memoryBytes, int maxDatagrams, long timeoutNanos, LongSupplier clock) {
    this.q = new FragmentQueues(memoryBytes, maxDatagrams, timeoutNanos, clock);
  }

  /**
   * Takes one packet; see the class description for everything that can happen to it.
   *
   * @param packet an IPv4 packet from its position to its limit. Read only, with absolute gets;
   *     position and limit are unchanged. Its bytes are copied when held, so the caller may reuse
   *     the buffer as soon as this returns.
   * @return null if the packet was held, ignored or dropped; {@code packet} itself if it is not a
   *     fragment; or the complete datagram in a new buffer owned by the caller
   * @throws NullPointerException if {@code packet} is null
   */
  public ByteBuffer offer(ByteBuffer packet) {
    long now = q.expireNow();
    Ipv4View v = view.wrap(packet);
    if (v.check() != null) {
      q.invalid();
      return null;
    }
    if (!v.isFragment()) {
      return packet;
    }
    // key: source, destination, protocol and identification (RFC 791)
    FragmentQueues.Entry e =
        q.datagram(v.source(), v.destination(), 0, 0, v.protocol() << 16 | v.identification(), now);
    if (e == null) {
      return null;
    }
    int hl = v.headerLength();
    int off = v.fragmentOffset();
    int head = off == 0 ? hl : e.headLength > 0 ? e.headLength : Ipv4View.MIN_HEADER_LENGTH;
    FragmentQueues.Outcome o =
        q.add(
            e,
            off,
            packet,
            v.payloadOffset(),
            v.payloadLength(),
            v.moreFragments(),
            head,
            Ipv4View.MAX_LENGTH,
            0,
            v.offset(),
            hl);
    if (o == FragmentQueues.Outcome.HELD || o == FragmentQueues.Outcome.COMPLETE) {
      e.aux |= v.dontFragment() ? 1 : 0;
    }
    return o == FragmentQueues.Outcome.COMPLETE ? complete(e) : null;
  }

  /**
   * Discards every datagram whose timeout has passed, counting its fragments as {@link
   * DropReason#REASSEMBLY_TIMEOUT}, and forgets discarded keys whose timeout has passed. {@link
   * #offer} does this too, so calling it is only needed to release memory while no packets arrive.
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
   * @return bytes held now: payload plus {@link #FRAGMENT_OVERHEAD} per held fragment; never more
   *     than the memory bound
   */
  public long bytesHeld() {
    return q.bytesHeld();
  }

  /**
   * @return incomplete datagrams being reassembled now (not counting remembered discards)
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
    return "Reassembler(" + q + ")";
  }

  private ByteBuffer complete(FragmentQueues.Entry e) {
    int hl = e.headLength;
    int total = hl + e.totalEnd;
    ByteBuffer out = ByteBuffer.allocate(total);
    byte[] a = out.array();
    System.arraycopy(e.head, 0, a, 0, hl);
    FragmentQueues.assemble(e, a, hl);
    Bytes.put16(out, 2, total);
    Bytes.put16(out, 6, e.aux != 0 ? DF : 0);
    Checksums.fillIpv4Header(out, 0);
    q.finish(e);
    return out;
  }
}
