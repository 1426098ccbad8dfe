package org.divert4j.packet;

import java.nio.ByteBuffer;
import org.divert4j.DivertException;

/**
 * Receives the fragments that {@link Fragmenter#fragment(ByteBuffer, int, FragmentSink)} and {@link
 * Ipv6Fragmenter#fragment(ByteBuffer, int, int, FragmentSink)} produce, one call per fragment, in
 * offset order, on the fragmenting thread.
 */
@FunctionalInterface
public interface FragmentSink {
  /**
   * Takes one fragment.
   *
   * <p>The buffer holds the fragment from its position to its limit. It belongs to the fragmenter
   * and is valid only during this call: copy it (or send it) before returning. The sink may change
   * its position, limit and bytes; the fragmenter resets them for the next fragment. When the
   * datagram already fits the MTU, the buffer is the caller's datagram buffer itself.
   *
   * @param fragment the fragment: from {@link Fragmenter}, a complete IPv4 packet with a valid
   *     header checksum; from {@link Ipv6Fragmenter}, a complete IPv6 packet with a Fragment header
   * @throws DivertException to stop fragmenting: the exception propagates out of {@code fragment}
   *     and no further fragments are produced (earlier ones were already taken)
   */
  void accept(ByteBuffer fragment) throws DivertException;
}
