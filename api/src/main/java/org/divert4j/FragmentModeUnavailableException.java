package org.divert4j;

/**
 * A host cannot be opened in the fragment mode asked for, because the network it diverts does not
 * allow it: {@link FragmentMode#PER_FRAGMENT} where the kernel already reassembles before the rules
 * (Linux registers {@code nf_defrag_ipv4}/{@code nf_defrag_ipv6} in a namespace as soon as
 * something there uses connection tracking, NAT, TPROXY or socket matches, as every stateful
 * firewall does). Nothing was opened. Opening with {@link #available()} works.
 */
public final class FragmentModeUnavailableException extends DivertException {
  private static final long serialVersionUID = 1L;

  /** The mode that was asked for. */
  private final FragmentMode requested;

  /** The mode that works there. */
  private final FragmentMode available;

  /**
   * @param message what the backend found, naming the namespace and the cause
   * @param requested the mode asked for
   * @param available the mode that works there
   */
  public FragmentModeUnavailableException(
      String message, FragmentMode requested, FragmentMode available) {
    super(message);
    this.requested = requested;
    this.available = available;
  }

  /**
   * @return the mode that was asked for
   */
  public FragmentMode requested() {
    return requested;
  }

  /**
   * @return the mode that works there
   */
  public FragmentMode available() {
    return available;
  }
}
