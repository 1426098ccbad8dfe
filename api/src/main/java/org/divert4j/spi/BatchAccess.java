package org.divert4j.spi;

import java.net.Inet6Address;
import java.nio.ByteBuffer;
import org.divert4j.Chain;
import org.divert4j.ConnectionState;
import org.divert4j.DivertAddress;
import org.divert4j.DivertException;
import org.divert4j.PacketBatch;

/**
 * Backend access to a {@link PacketBatch}'s slots, so that backends can fill and read batches
 * without allocating and without that access being part of the user API. Stateless; thread safety
 * is that of the batch (none).
 */
public abstract class BatchAccess {
  private static volatile BatchAccess instance;

  /** For {@link PacketBatch} only. */
  protected BatchAccess() {}

  /**
   * Called once by {@link PacketBatch}'s initialiser.
   *
   * @param access the implementation
   */
  public static void install(BatchAccess access) {
    if (instance != null) {
      throw new IllegalStateException("BatchAccess is installed already");
    }
    instance = access;
  }

  /**
   * @return the accessor
   */
  public static BatchAccess get() {
    BatchAccess a = instance;
    if (a == null) {
      try {
        Class.forName(PacketBatch.class.getName(), true, PacketBatch.class.getClassLoader());
      } catch (ClassNotFoundException e) {
        throw new AssertionError(e);
      }
      a = instance;
    }
    return a;
  }

  /**
   * @param b a batch
   * @param i a slot index below its capacity
   * @return the slot's buffer, whatever the batch size
   */
  public abstract ByteBuffer slot(PacketBatch b, int i);

  /**
   * Empties the batch before a receive.
   *
   * @param b a batch
   */
  public abstract void clearForReceive(PacketBatch b);

  /**
   * Records a received packet in a slot whose buffer already holds its bytes from 0.
   *
   * @param b a batch
   * @param i a slot index below its capacity
   * @param length the packet length; the slot's limit is set to it
   * @param port the divert port
   * @param chain the chain
   * @param interfaceName the receiving interface (ignored for outbound)
   * @param interfaceIndex its index (ignored for outbound)
   * @param interfaceAddress its address bits (ignored for outbound)
   * @param ruleId the rule id
   * @param ticket the held packet's ticket
   */
  public abstract void setReceived(
      PacketBatch b,
      int i,
      int length,
      int port,
      Chain chain,
      String interfaceName,
      int interfaceIndex,
      int interfaceAddress,
      int ruleId,
      long ticket);

  /**
   * Sets the interface address of an inbound IPv6 packet recorded by {@link #setReceived} (which
   * clears it). Ignored for outbound slots.
   *
   * @param b a batch
   * @param i a slot index set by setReceived
   * @param address the interface's first IPv6 address (S55), shared and immutable; null for none
   */
  public abstract void setInterfaceAddress6(PacketBatch b, int i, Inet6Address address);

  /**
   * Sets the segment size of a super-packet recorded by {@link #setReceived} (which clears it).
   *
   * @param b a batch
   * @param i a slot index set by setReceived
   * @param size the payload bytes per segment, 0 for an ordinary packet
   */
  public abstract void setSegmentSize(PacketBatch b, int i, int size);

  /**
   * Records what the backend knows about a received packet (S75), after {@link #setReceived} (which
   * resets it all to absent). Pass {@link org.divert4j.PacketMetadata#ABSENT} or null for what it
   * does not know.
   *
   * @param b a batch
   * @param i a slot index set by setReceived
   * @param timestamp receive time in nanoseconds by the host's timestamp clock
   * @param outIndex the outbound interface index
   * @param uid the owning socket's uid
   * @param gid the owning socket's gid
   * @param state the connection state
   */
  public abstract void setMetadata(
      PacketBatch b,
      int i,
      long timestamp,
      int outIndex,
      long uid,
      long gid,
      ConnectionState state);

  /**
   * @param b a batch
   * @param size the number of filled slots
   */
  public abstract void setSize(PacketBatch b, int size);

  /**
   * Sets a received slot's firewall mark, after {@link #setReceived} (which sets it to 0): the bits
   * outside the backend's own (S73).
   *
   * @param b the batch
   * @param i the slot
   * @param mark the mark
   */
  public abstract void setMark(PacketBatch b, int i, int mark);

  /**
   * @param b a batch
   * @param i a slot index below its size
   * @param e why sending the slot failed
   */
  public abstract void setError(PacketBatch b, int i, DivertException e);

  /**
   * @param b a batch
   * @param i a slot index below its size
   * @return the address object given with {@link PacketBatch#add}, or null for a received slot
   */
  public abstract DivertAddress given(PacketBatch b, int i);
}
