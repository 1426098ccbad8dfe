package org.divert4j;

/**
 * A snapshot of one divert socket's counters (S15, S50). Immutable; counters only grow while the
 * socket is open.
 */
public final class SocketStats extends Counters {
  private final long received;
  private final long receivedBytes;
  private final long reinjected;
  private final long injected;
  private final long sentBytes;
  private final long failOpenAccepted;
  private final long held;

  /**
   * For backends.
   *
   * @param received packets delivered to the program
   * @param receivedBytes their bytes
   * @param reinjected packets written back with their ticket
   * @param injected new packets sent
   * @param sentBytes bytes reinjected or injected
   * @param failOpenAccepted packets accepted without diversion because the queue was full
   * @param held packets received and not yet written back or dropped, now
   * @param dropped drops, indexed by {@link DropReason#ordinal()}
   */
  public SocketStats(
      long received,
      long receivedBytes,
      long reinjected,
      long injected,
      long sentBytes,
      long failOpenAccepted,
      long held,
      long[] dropped) {
    super(dropped);
    this.received = received;
    this.receivedBytes = receivedBytes;
    this.reinjected = reinjected;
    this.injected = injected;
    this.sentBytes = sentBytes;
    this.failOpenAccepted = failOpenAccepted;
    this.held = held;
  }

  /**
   * @return packets delivered to the program
   */
  public long received() {
    return received;
  }

  /**
   * @return bytes delivered to the program
   */
  public long receivedBytes() {
    return receivedBytes;
  }

  /**
   * @return packets written back with the address they were received with
   */
  public long reinjected() {
    return reinjected;
  }

  /**
   * @return new packets injected
   */
  public long injected() {
    return injected;
  }

  /**
   * @return packets reinjected plus injected
   */
  public long sent() {
    return reinjected + injected;
  }

  /**
   * @return bytes reinjected or injected
   */
  public long sentBytes() {
    return sentBytes;
  }

  /**
   * @return packets that found the queue full and were accepted because of fail-open (S15)
   */
  public long failOpenAccepted() {
    return failOpenAccepted;
  }

  /**
   * @return packets received and not yet written back or dropped, at the time of the snapshot
   */
  public long held() {
    return held;
  }

  @Override
  public String toString() {
    return "received="
        + received
        + " reinjected="
        + reinjected
        + " injected="
        + injected
        + " held="
        + held
        + " failOpenAccepted="
        + failOpenAccepted
        + " dropped="
        + drops();
  }
}
