package org.divert4j.stack;

import java.nio.ByteBuffer;
import java.util.function.LongSupplier;
import org.divert4j.DropReason;
import org.divert4j.HostOptions;
import org.divert4j.packet.Ipv6Reassembler;
import org.divert4j.packet.Reassembler;

/**
 * The engine's reassembly of fragments before the rules (S21): one reassembler per family, which
 * share no buffer (S63), each bounded by {@link HostOptions#reassemblyMemory()} and timed out by
 * {@link HostOptions#reassemblyTimeout()} on the engine's clock. Used inside the engine's section.
 */
final class Reassembly {
  private final Reassembler reassembler;
  private final Ipv6Reassembler reassembler6;
  private long reassembledCount;

  Reassembly(HostOptions options, LongSupplier nanoTime) {
    int datagrams = Math.max(64, (int) Math.min(65536, options.reassemblyMemory() / 1024));
    long timeout = options.reassemblyTimeout().toNanos();
    this.reassembler = new Reassembler(options.reassemblyMemory(), datagrams, timeout, nanoTime);
    this.reassembler6 =
        new Ipv6Reassembler(options.reassemblyMemory(), datagrams, timeout, nanoTime);
  }

  /** True if the packet at its position is a fragment of either family. */
  static boolean isFragment(ByteBuffer p) {
    if (Ipv6Support.isIpv6(p)) {
      return Ipv6Support.isFragment(p);
    }
    return (p.getShort(p.position() + 6) & 0x3fff) != 0;
  }

  /**
   * Offers a fragment to its family's reassembler (S63: the families share no buffer).
   *
   * @return the whole datagram, or null while it is incomplete (or was discarded)
   */
  ByteBuffer offer(ByteBuffer p) {
    ByteBuffer whole = Ipv6Support.isIpv6(p) ? reassembler6.offer(p) : reassembler.offer(p);
    if (whole != null) {
      reassembledCount++;
    }
    return whole;
  }

  /** Discards what has waited longer than the timeout. */
  void expire() {
    reassembler.expire();
    reassembler6.expire();
  }

  /** Bytes held by both families' reassemblers, as {@link Reassembler#bytesHeld()} counts. */
  long bytesHeld() {
    return reassembler.bytesHeld() + reassembler6.bytesHeld();
  }

  /** Adds what both reassemblers discarded to drop counters indexed by {@link DropReason}. */
  void addDiscards(long[] drops) {
    for (DropReason r :
        new DropReason[] {
          DropReason.REASSEMBLY_TIMEOUT,
          DropReason.REASSEMBLY_OVERLAP,
          DropReason.REASSEMBLY_MEMORY,
          DropReason.REASSEMBLY_INVALID
        }) {
      drops[r.ordinal()] += reassembler.discarded(r) + reassembler6.discarded(r);
    }
  }

  /** How many datagrams were reassembled. */
  long reassembled() {
    return reassembledCount;
  }
}
