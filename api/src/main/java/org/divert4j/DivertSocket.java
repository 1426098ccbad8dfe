package org.divert4j;

import java.nio.ByteBuffer;
import java.time.Duration;

/**
 * A divert socket: bound to one divert port of a host, it receives the packets the host's DIVERT
 * rules send to that port, and sends packets back (reinjection) or new ones (injection). Get one
 * from {@link DivertHost#bind(int)}.
 *
 * <p><b>Receiving.</b> Each received packet is one whole IP packet, byte-identical to what was at
 * the divert point, never truncated (S8). It is taken out of the stack: it goes no further unless
 * written back (S9). A received packet is <em>held</em> until the program writes it back with
 * {@link #send(ByteBuffer, DivertAddress)} and the address it came with, or drops it with {@link
 * #drop(DivertAddress)}; a packet held longer than {@link HostOptions#holdTimeout()} is dropped and
 * counted. Held packets count against {@link HostOptions#queueLength()}.
 *
 * <p><b>Sending.</b> The packet's IP header is fixed up on the way out (section H): the header
 * checksum is recomputed, an IP ID of 0 is replaced by a non-zero one, and the total length is set
 * to the number of bytes sent; nothing else is changed. The buffer given is not modified. Errors
 * are checked before anything is sent: malformed (S47), too large (S27-S31), address not available
 * (S36), no route (S49).
 *
 * <p><b>Threads.</b> All methods are thread-safe. Several threads may receive at once (each packet
 * goes to one of them) and send at once. {@link #close()} from any thread wakes blocked receivers
 * promptly with {@link DivertClosedException}; interrupts are not used.
 *
 * <p><b>After close.</b> Every method but {@link #close()}, {@link #isOpen()}, {@link #port()} and
 * {@link #stats()} throws {@link DivertClosedException}; packets queued or held are dropped (S14).
 */
public interface DivertSocket extends AutoCloseable {
  /**
   * @return the divert port this socket is bound to
   */
  int port();

  /**
   * @return the host this socket belongs to
   */
  DivertHost host();

  /**
   * Whether this socket is a sniffer ({@link DivertHost#bindSniffer(int)}): it receives copies,
   * holds nothing and cannot write packets back. Works after close too.
   *
   * @return true for a sniffer; the default is false
   */
  default boolean isSniffer() {
    return false;
  }

  /**
   * Receives one packet, blocking until one arrives or the socket closes.
   *
   * @param dst where to write the packet, from its position; on return the position is advanced by
   *     the packet's length
   * @return the packet's divert address
   * @throws BufferTooSmallException if {@code dst} has less room than the packet; the packet stays
   *     queued
   * @throws DivertClosedException if the socket is or becomes closed
   * @throws DivertException if the backend fails
   */
  DivertAddress receive(ByteBuffer dst) throws DivertException;

  /**
   * Receives one packet, waiting at most {@code timeout}.
   *
   * @param dst where to write the packet, from its position; on return the position is advanced by
   *     the packet's length
   * @param timeout how long to wait; zero polls without blocking
   * @return the packet's divert address, or null if none arrived in time
   * @throws BufferTooSmallException if {@code dst} has less room than the packet; the packet stays
   *     queued
   * @throws DivertClosedException if the socket is or becomes closed
   * @throws DivertException if the backend fails
   */
  DivertAddress receive(ByteBuffer dst, Duration timeout) throws DivertException;

  /**
   * Receives up to {@code batch.capacity()} packets, waiting at most {@code timeout} for the first
   * and not waiting for more. Clears the batch first.
   *
   * @param batch the batch to fill; owned by the caller, used by one thread
   * @param timeout how long to wait for the first packet; zero polls without blocking
   * @return the number of packets received (also {@code batch.size()}); 0 on timeout
   * @throws BufferTooSmallException if the first packet does not fit a slot; it stays queued
   * @throws DivertClosedException if the socket is or becomes closed
   * @throws DivertException if the backend fails
   */
  int receive(PacketBatch batch, Duration timeout) throws DivertException;

  /**
   * Sends one packet: writes a held packet back if {@code address} carries its ticket (S35, S43),
   * otherwise injects a new packet inbound (a local interface address, S33) or outbound (the zero
   * address, S32). Blocks only for the system call.
   *
   * @param packet the IP packet, from position to limit; not modified; the position is advanced to
   *     the limit when the call succeeds
   * @param address the address it was received with, {@link DivertAddress#OUTBOUND}, or {@link
   *     DivertAddress#inbound}
   * @throws MalformedPacketException if the packet is not well-formed IPv4 (S47)
   * @throws PacketTooLargeException if it exceeds the egress MTU or 65535 bytes (S27-S31)
   * @throws AddressNotAvailableException if the address is neither zero nor local (S36)
   * @throws NoRouteException if an outbound packet has no route (S49)
   * @throws SnifferWriteBackException if this socket is a sniffer and {@code address} is one it
   *     received (S71); nothing is sent
   * @throws DivertClosedException if the socket is closed
   * @throws DivertException if the backend fails
   */
  void send(ByteBuffer packet, DivertAddress address) throws DivertException;

  /**
   * Injects a new packet outbound, routed by its destination; the same as {@code send(packet,
   * DivertAddress.OUTBOUND)}.
   *
   * @param packet the IP packet, from position to limit; not modified
   * @throws DivertException as {@link #send(ByteBuffer, DivertAddress)}
   */
  default void send(ByteBuffer packet) throws DivertException {
    send(packet, DivertAddress.OUTBOUND);
  }

  /**
   * Sends every slot of a batch with its address, except slots marked with {@link
   * PacketBatch#drop(int)}, which are dropped. Backends batch the work into as few system calls as
   * they can. A slot that fails does not stop the others: its error is in {@link
   * PacketBatch#error(int)}.
   *
   * @param batch the batch; its buffers are not modified
   * @return the number of slots sent (not counting dropped or failed ones)
   * @throws DivertClosedException if the socket is closed (nothing is sent)
   * @throws DivertException if the backend fails as a whole
   */
  int send(PacketBatch batch) throws DivertException;

  /**
   * Drops a held packet: it goes no further (S9). Does nothing if the address carries no ticket of
   * this socket, or its packet was already written back, dropped or expired.
   *
   * @param address the address the packet was received with
   * @throws DivertClosedException if the socket is closed
   * @throws DivertException if the backend fails
   */
  void drop(DivertAddress address) throws DivertException;

  /**
   * @return a snapshot of this socket's counters; works after close too
   */
  SocketStats stats();

  /**
   * @return true until {@link #close()} (or the host's close)
   */
  boolean isOpen();

  /**
   * Unbinds the port: packets that match its rules get the no-listener behaviour from now on (S13);
   * queued and held packets are dropped (S14); blocked receivers wake with {@link
   * DivertClosedException}. Idempotent, thread-safe, never throws.
   */
  @Override
  void close();
}
