package org.divert4j;

/**
 * The connection-tracking state of a delivered packet (S75), as Linux conntrack names it ({@code
 * ctstate} in iptables).
 */
public enum ConnectionState {
  /** The first packet of a connection the tracker has not seen answered. */
  NEW,
  /** A packet of a connection that has seen packets in both directions. */
  ESTABLISHED,
  /**
   * A packet that starts or belongs to a connection related to another (an ICMP error, FTP data).
   */
  RELATED,
  /** A packet the tracker could not place in any connection. */
  INVALID
}
