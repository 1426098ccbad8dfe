package org.divert4j;

import java.net.Inet6Address;
import java.nio.ByteBuffer;
import java.util.Objects;
import org.divert4j.spi.BatchAccess;

/**
 * A reusable set of packet slots for receiving and sending many packets per call, without
 * allocating per packet (peers.md lesson 4: batching in both directions is the main lever).
 *
 * <p><b>Receiving:</b> {@link DivertSocket#receive(PacketBatch, java.time.Duration)} clears the
 * batch and fills slots {@code 0..size()-1}. Each slot has the packet ({@link #packet(int)}: a
 * buffer owned by the batch, position 0, limit the packet's length) and its divert address, read
 * without allocation through the primitive accessors or as an object with {@link #address(int)}.
 *
 * <p><b>Writing back:</b> the program may change a slot's bytes and limit (up to the slot's
 * capacity), mark slots with {@link #drop(int)}, then call {@link DivertSocket#send(PacketBatch)}:
 * every slot is written back with its address except those marked dropped. After that call {@link
 * #error(int)} tells which slots failed and why.
 *
 * <p><b>Injecting:</b> {@link #clear()}, then {@link #add(ByteBuffer, DivertAddress)} for each
 * packet, then {@link DivertSocket#send(PacketBatch)}.
 *
 * <p><b>Ownership and threads:</b> the slot buffers belong to the batch and stay valid until the
 * batch is received into or cleared again. A batch is not thread-safe: use one per thread.
 */
public final class PacketBatch {
  /** The largest IPv4 packet, and the default slot capacity, so nothing is truncated (S8). */
  public static final int MAX_PACKET = 65535;

  private static final Chain[] CHAINS = Chain.values();

  static {
    BatchAccess.install(new Access());
  }

  private final ByteBuffer[] buffers;
  private final int[] port;
  private final byte[] chain;
  private final int[] ifIndex;
  private final int[] ifAddress;
  private final Inet6Address[] ifAddress6; // shared, immutable: the interface table's objects
  private final String[] ifName;
  private final int[] ruleId;
  private final long[] ticket;
  private final int[] segmentSize;
  private final int[] mark;
  private final PacketMetadata metadata;
  private final boolean[] dropped;
  private final DivertException[] errors;
  private final DivertAddress[] given;
  private int size;

  private PacketBatch(ByteBuffer[] buffers) {
    int n = buffers.length;
    this.buffers = buffers;
    this.port = new int[n];
    this.chain = new byte[n];
    this.ifIndex = new int[n];
    this.ifAddress = new int[n];
    this.ifAddress6 = new Inet6Address[n];
    this.ifName = new String[n];
    this.ruleId = new int[n];
    this.ticket = new long[n];
    this.segmentSize = new int[n];
    this.mark = new int[n];
    this.metadata = new PacketMetadata(n);
    this.dropped = new boolean[n];
    this.errors = new DivertException[n];
    this.given = new DivertAddress[n];
    java.util.Arrays.fill(chain, (byte) -1);
    java.util.Arrays.fill(ifName, "");
  }

  /**
   * A batch of direct buffers of {@link #MAX_PACKET} bytes each (64 slots take 4 MiB).
   *
   * @param capacity number of slots, 1..1024
   * @return the batch
   */
  public static PacketBatch allocate(int capacity) {
    return allocate(capacity, MAX_PACKET, true);
  }

  /**
   * A batch with slots of a chosen size. Packets longer than the slot size are never truncated:
   * receive leaves them queued and fails with {@link BufferTooSmallException} if the first packet
   * does not fit, and otherwise stops the batch before them.
   *
   * @param capacity number of slots, 1..1024
   * @param packetCapacity bytes per slot, 20..65535
   * @param direct true for direct (off-heap) buffers, false for heap buffers
   * @return the batch
   */
  public static PacketBatch allocate(int capacity, int packetCapacity, boolean direct) {
    if (capacity < 1 || capacity > 1024) {
      throw new IllegalArgumentException("batch capacity must be 1..1024: " + capacity);
    }
    if (packetCapacity < 20 || packetCapacity > MAX_PACKET) {
      throw new IllegalArgumentException("packet capacity must be 20..65535: " + packetCapacity);
    }
    ByteBuffer[] b = new ByteBuffer[capacity];
    if (direct) {
      ByteBuffer block = ByteBuffer.allocateDirect(capacity * packetCapacity);
      for (int i = 0; i < capacity; i++) {
        b[i] = block.slice(i * packetCapacity, packetCapacity);
      }
    } else {
      for (int i = 0; i < capacity; i++) {
        b[i] = ByteBuffer.allocate(packetCapacity);
      }
    }
    return new PacketBatch(b);
  }

  /**
   * @return the number of slots
   */
  public int capacity() {
    return buffers.length;
  }

  /**
   * @return the number of slots in use
   */
  public int size() {
    return size;
  }

  /**
   * @return true if no slot is in use
   */
  public boolean isEmpty() {
    return size == 0;
  }

  /**
   * @param i a slot index below {@link #capacity()}
   * @return the slot's capacity in bytes
   */
  public int packetCapacity(int i) {
    return buffers[i].capacity();
  }

  /** Empties the batch; slot buffers are reused. */
  public void clear() {
    for (int i = 0; i < size; i++) {
      reset(i);
    }
    size = 0;
  }

  private void reset(int i) {
    dropped[i] = false;
    errors[i] = null;
    given[i] = null;
    ticket[i] = 0;
    mark[i] = 0;
    metadata.clear(i);
    port[i] = 0;
    chain[i] = -1;
    ifName[i] = "";
    ifIndex[i] = 0;
    ifAddress[i] = 0;
    ifAddress6[i] = null;
    ruleId[i] = 0;
    segmentSize[i] = 0;
  }

  /**
   * Appends a packet to send. Copies its bytes (position to limit) into the next slot; the
   * argument's position is left unchanged.
   *
   * @param packet the IP packet
   * @param address where to send it ({@link DivertAddress#OUTBOUND}, an inbound address, or a
   *     received address to write a packet back)
   * @return the slot index
   * @throws IllegalStateException if the batch is full
   * @throws IllegalArgumentException if the packet is longer than the slot
   */
  public int add(ByteBuffer packet, DivertAddress address) {
    Objects.requireNonNull(address, "address");
    if (size == buffers.length) {
      throw new IllegalStateException("batch is full: " + size + " packets");
    }
    int i = size;
    ByteBuffer slot = buffers[i];
    int len = packet.remaining();
    if (len > slot.capacity()) {
      throw new IllegalArgumentException(
          "packet of " + len + " bytes does not fit a slot of " + slot.capacity());
    }
    reset(i);
    slot.clear();
    slot.put(0, packet, packet.position(), len);
    slot.limit(len);
    setAddress(i, address);
    size++;
    return i;
  }

  private void setAddress(int i, DivertAddress a) {
    given[i] = a;
    port[i] = a.port();
    chain[i] = (byte) a.chain().map(Enum::ordinal).orElse(-1).intValue();
    ifName[i] = a.interfaceName();
    ifIndex[i] = a.interfaceIndex();
    ifAddress[i] = a.interfaceAddressBits();
    ifAddress6[i] = a.interfaceAddress6();
    ruleId[i] = a.ruleId();
    ticket[i] = a.ticket();
  }

  /**
   * @param i a slot index below {@link #size()}
   * @return the slot's packet: a buffer owned by the batch, position 0, limit the packet length;
   *     the program may modify bytes and limit before writing it back
   */
  public ByteBuffer packet(int i) {
    check(i);
    return buffers[i];
  }

  /**
   * @param i a slot index below {@link #size()}
   * @return the slot's address as an object (allocates unless it was given to {@link #add})
   */
  public DivertAddress address(int i) {
    check(i);
    DivertAddress a = given[i];
    if (a == null) {
      a =
          DivertAddress.received(
              port[i],
              chain(i),
              ifName[i],
              ifIndex[i],
              ifAddress6[i] != null ? ifAddress6[i] : Ipv4.fromInt(ifAddress[i]),
              ruleId[i],
              ticket[i]);
      given[i] = a;
    }
    return a;
  }

  /**
   * @param i a slot index below {@link #size()}
   * @return the divert port the packet was diverted to (0 for injections)
   */
  public int port(int i) {
    check(i);
    return port[i];
  }

  /**
   * @param i a slot index below {@link #size()}
   * @return the chain it was diverted on, or null for an injection slot
   */
  public Chain chain(int i) {
    check(i);
    return chain[i] < 0 ? null : CHAINS[chain[i]];
  }

  /**
   * @param i a slot index below {@link #size()}
   * @return the direction of the slot's address
   */
  public Direction direction(int i) {
    Chain c = chain(i);
    if (c != null) {
      return c.direction();
    }
    return given[i] != null ? given[i].direction() : Direction.OUTBOUND;
  }

  /**
   * @param i a slot index below {@link #size()}
   * @return the receiving interface index (0 for outbound)
   */
  public int interfaceIndex(int i) {
    check(i);
    return ifIndex[i];
  }

  /**
   * @param i a slot index below {@link #size()}
   * @return the receiving interface name (empty for outbound)
   */
  public String interfaceName(int i) {
    check(i);
    return ifName[i];
  }

  /**
   * @param i a slot index below {@link #size()}
   * @return the receiving interface's IPv6 address for an inbound IPv6 packet (S55), or null when
   *     the slot's interface address is an IPv4 one or none; allocates nothing
   */
  public Inet6Address interfaceAddress6(int i) {
    check(i);
    return ifAddress6[i];
  }

  /**
   * @param i a slot index below {@link #size()}
   * @return the receiving interface's IPv4 address bits (0 for outbound and for IPv6 packets)
   */
  public int interfaceAddressBits(int i) {
    check(i);
    return ifAddress[i];
  }

  /**
   * @param i a slot index below {@link #size()}
   * @return the id of the rule that diverted the packet
   */
  public int ruleId(int i) {
    check(i);
    return ruleId[i];
  }

  /**
   * @param i a slot index below {@link #size()}
   * @return the held packet's ticket, 0 if none
   */
  public long ticket(int i) {
    check(i);
    return ticket[i];
  }

  /**
   * The segment size of a super-packet (S69): with {@link HostOptions#segmentOffload()} on, a
   * received TCP or UDP packet may stand for several segments the stack coalesced or will cut, and
   * be larger than the interface MTU; this is the transport payload bytes per segment (the last
   * segment may be shorter). Allocation-free.
   *
   * @param i a slot index below {@link #size()}
   * @return the segment size, or 0 if the slot does not hold a super-packet (always 0 for packets
   *     added with {@link #add})
   */
  public int segmentSize(int i) {
    check(i);
    return segmentSize[i];
  }

  /**
   * The packet's firewall mark ({@code skb->mark} on Linux) as far as it belongs to programs, on
   * backends with {@link Capability#PACKET_MARK} (S73): the bits outside the backend's own, which
   * other rules, policy routing and other software (kube-proxy, WireGuard, Tailscale, ...) may set
   * and read. The bits the backend keeps its state in always read as 0 (the kernel backend's are
   * the host property {@code rawsocket.markMask}). 0 for packets added with {@link #add} until
   * {@link #setMark} sets it, and on backends without the capability. Allocates nothing.
   *
   * @param i a slot index below {@link #size()}
   * @return the mark, as an unsigned 32-bit pattern
   */
  public int mark(int i) {
    check(i);
    return mark[i];
  }

  /**
   * Sets the firewall mark a slot's packet leaves with when the next {@link
   * DivertSocket#send(PacketBatch)} writes it back or injects it, on backends with {@link
   * Capability#PACKET_MARK} (S73): rules after the diverting one, routing and other software see
   * it. Only the bits outside the backend's own are used; the backend's bits keep the values it
   * needs. Backends without the capability ignore it. A written-back packet whose mark is not set
   * keeps the mark it was received with. Allocates nothing.
   *
   * @param i a slot index below {@link #size()}
   * @param value the mark, as an unsigned 32-bit pattern
   */
  public void setMark(int i, int value) {
    check(i);
    mark[i] = value;
  }

  /**
   * @return what the backend knows about each slot's packet beyond its bytes (S75): timestamp,
   *     outbound interface, owner, connection state; one object per batch, so this allocates
   *     nothing
   */
  public PacketMetadata metadata() {
    return metadata;
  }

  /**
   * Marks a slot to be dropped, not written back, by the next {@link
   * DivertSocket#send(PacketBatch)}.
   *
   * @param i a slot index below {@link #size()}
   */
  public void drop(int i) {
    check(i);
    dropped[i] = true;
  }

  /**
   * @param i a slot index below {@link #size()}
   * @return true if the slot is marked to be dropped
   */
  public boolean isDropped(int i) {
    check(i);
    return dropped[i];
  }

  /**
   * @param i a slot index below {@link #size()}
   * @return why the last send failed for this slot, or null if it succeeded or was not sent
   */
  public DivertException error(int i) {
    check(i);
    return errors[i];
  }

  private void check(int i) {
    if (i < 0 || i >= size) {
      throw new IndexOutOfBoundsException("slot " + i + " of a batch of " + size);
    }
  }

  private static final class Access extends BatchAccess {
    @Override
    public ByteBuffer slot(PacketBatch b, int i) {
      return b.buffers[i];
    }

    @Override
    public void clearForReceive(PacketBatch b) {
      // Every slot a receive fills is set whole by setReceived, and slots at or past the size
      // are unreachable (check), so emptying is enough: no second reset per packet.
      b.size = 0;
    }

    @Override
    public void setReceived(
        PacketBatch b,
        int i,
        int length,
        int port,
        Chain chain,
        String interfaceName,
        int interfaceIndex,
        int interfaceAddress,
        int ruleId,
        long ticket) {
      // every field of the slot, as reset(i) and then the received values would leave it
      b.dropped[i] = false;
      b.errors[i] = null;
      b.given[i] = null;
      ByteBuffer s = b.buffers[i];
      s.clear().limit(length);
      b.port[i] = port;
      b.chain[i] = (byte) chain.ordinal();
      boolean in = chain.direction() == Direction.INBOUND;
      b.ifName[i] = in ? interfaceName : "";
      b.ifIndex[i] = in ? interfaceIndex : 0;
      b.ifAddress[i] = in ? interfaceAddress : 0;
      b.ifAddress6[i] = null;
      b.ruleId[i] = ruleId;
      b.ticket[i] = ticket;
      b.mark[i] = 0;
      b.metadata.clear(i);
      b.segmentSize[i] = 0;
    }

    @Override
    public void setSegmentSize(PacketBatch b, int i, int size) {
      b.segmentSize[i] = size;
    }

    @Override
    public void setMetadata(
        PacketBatch b,
        int i,
        long timestamp,
        int outIndex,
        long uid,
        long gid,
        ConnectionState state) {
      b.metadata.set(i, timestamp, outIndex, uid, gid, state);
    }

    @Override
    public void setMark(PacketBatch b, int i, int mark) {
      b.mark[i] = mark;
    }

    @Override
    public void setInterfaceAddress6(PacketBatch b, int i, Inet6Address address) {
      b.ifAddress6[i] =
          b.chain[i] >= 0 && CHAINS[b.chain[i]].direction() == Direction.INBOUND ? address : null;
    }

    @Override
    public void setSize(PacketBatch b, int size) {
      if (size < 0 || size > b.buffers.length) {
        throw new IllegalArgumentException("size " + size);
      }
      b.size = size;
    }

    @Override
    public void setError(PacketBatch b, int i, DivertException e) {
      b.errors[i] = e;
    }

    @Override
    public DivertAddress given(PacketBatch b, int i) {
      return b.given[i];
    }
  }
}
