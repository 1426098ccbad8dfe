package org.divert4j;

import java.util.List;
import java.util.Set;

/**
 * One IP stack under diversion: a Linux network namespace, a simulated host, or an inline segment
 * (SEMANTICS.md "Host"). It owns the divert rules it installs and the sockets bound on it; closing
 * it removes all of them (S51). Open one with {@link Divert#open(HostOptions)} or from a provider.
 *
 * <p>Thread-safe. After {@link #close()}, every method but {@link #close()}, {@link #isOpen()},
 * {@link #options()}, {@link #backend()}, {@link #name()}, {@link #capabilities()} and {@link
 * #stats()} throws {@link DivertClosedException}.
 */
public interface DivertHost extends AutoCloseable {
  /**
   * @return the name of the backend, e.g. {@code rawsocket}
   */
  String backend();

  /**
   * @return a name for this host, unique on its backend while open (the kernel backend tags its
   *     rules with it)
   */
  String name();

  /**
   * @return the options the host was opened with
   */
  HostOptions options();

  /**
   * @return what this host can do beyond the required rules
   */
  Set<Capability> capabilities();

  /**
   * @return the host's interfaces, in index order
   * @throws DivertException if they cannot be read
   */
  List<NetInterface> interfaces() throws DivertException;

  /**
   * Appends a rule at the end of its chain. Diversion by it starts at once (S3). Blocks while the
   * backend updates the firewall.
   *
   * @param rule the rule
   * @return the installed rule, to remove it later
   * @throws DivertException if the backend failed to install it
   */
  InstalledRule addRule(DivertRule rule) throws DivertException;

  /**
   * Inserts a rule at a position in its chain (S5: rules are evaluated in order).
   *
   * @param index 0 to insert first; at most the number of this host's rules in that chain
   * @param rule the rule
   * @return the installed rule
   * @throws IndexOutOfBoundsException if the index is out of range
   * @throws DivertException if the backend failed to install it
   */
  InstalledRule insertRule(int index, DivertRule rule) throws DivertException;

  /**
   * @return this host's installed rules, chain by chain (input, forward, output) in evaluation
   *     order
   */
  List<InstalledRule> rules();

  /**
   * Binds a divert socket to a port. Diversion to it starts at once (S13).
   *
   * @param port 1..65535
   * @return the socket
   * @throws IllegalArgumentException if the port is 0 or above 65535 (S2)
   * @throws PortInUseException if a socket is bound to the port on this host (S2)
   * @throws PermissionException if the caller lacks a privilege it needs
   * @throws DivertException if the backend fails
   */
  DivertSocket bind(int port) throws DivertException;

  /**
   * @return a snapshot of the host's counters (no-listener, reassembly, capture and transmit
   *     drops); works after close too
   */
  HostStats stats();

  /**
   * @return the clock of {@link PacketMetadata#timestamp(int)} on this host (S75); {@link
   *     TimestampClock#NONE} when its backend gives no timestamps
   */
  default TimestampClock timestampClock() {
    return TimestampClock.NONE;
  }

  /**
   * @return true until {@link #close()}
   */
  boolean isOpen();

  /**
   * Closes every socket and removes every rule this host installed (S51). Idempotent; blocks while
   * the backend removes its rules.
   *
   * @throws DivertException if some kernel state could not be removed; the message says which, and
   *     the next open on that backend retries the cleanup
   */
  @Override
  void close() throws DivertException;
}
