package org.divert4j;

/**
 * A receive buffer has less room than the next packet. Divert4j never truncates a packet
 * (SEMANTICS.md S8): the packet stays queued and the next receive with a large enough buffer gets
 * it.
 */
public final class BufferTooSmallException extends DivertException {
  private static final long serialVersionUID = 1L;

  /** The buffer size the packet needs, in bytes. */
  private final int required;

  /**
   * @param required the packet's length in bytes
   * @param available the room the buffer had
   */
  public BufferTooSmallException(int required, int available) {
    super(
        "receive buffer too small: the packet has "
            + required
            + " bytes and the buffer "
            + available
            + " remaining; use a 65535-byte buffer");
    this.required = required;
  }

  /**
   * @return the number of bytes the buffer must have remaining
   */
  public int required() {
    return required;
  }
}
