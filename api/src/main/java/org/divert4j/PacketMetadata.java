package org.divert4j;

/**
 * What a backend knows about each packet of a {@link PacketBatch} beyond its bytes and divert
 * address (SEMANTICS.md S75, capability {@link Capability#PACKET_META}): when it arrived, which
 * interface it leaves by, which user's socket sent it, and its connection state. A value the
 * backend does not know for a packet reads as absent ({@link #ABSENT} or null), never as 0: uid 0
 * is root, not "unknown".
 *
 * <p>Owned by its batch ({@link PacketBatch#metadata()}), one per batch, so reading it allocates
 * nothing; the values describe the batch's slots as the last receive filled them and are reset by
 * the next one. Slots added with {@link PacketBatch#add} have every value absent. Not thread-safe,
 * like the batch.
 *
 * <p>Where each backend gets them, and its timestamp clock ({@link DivertHost#timestampClock()}):
 *
 * <ul>
 *   <li>rawsocket: NFQUEUE's attributes: {@code NFQA_TIMESTAMP} (the skb's receive time, wall
 *       clock, microsecond resolution; present for packets that arrived on an interface, absent for
 *       locally generated ones), {@code NFQA_IFINDEX_OUTDEV} (forward and output chains), {@code
 *       NFQA_UID}/{@code NFQA_GID} with {@code NFQA_CFG_F_UID_GID} (locally generated packets whose
 *       socket has an owner), {@code NFQA_CT_INFO} with {@code NFQA_CFG_F_CONNTRACK} (where
 *       connection tracking runs before the rule: the forward and output chains of a namespace that
 *       tracks connections; the input chain's rules run before conntrack, so its packets have no
 *       state).
 *   <li>sim: the virtual clock at delivery, the outbound interface on the forward and output
 *       chains; no sockets' owners and no connection tracking.
 *   <li>pcap: the capture timestamp (wall clock), the segment interface a forwarded packet leaves
 *       by.
 * </ul>
 */
public final class PacketMetadata {
  /** An absent numeric value. */
  public static final long ABSENT = -1;

  private static final ConnectionState[] STATES = ConnectionState.values();

  private final long[] timestamp;
  private final int[] outIndex;
  private final long[] uid;
  private final long[] gid;
  private final byte[] state;

  PacketMetadata(int slots) {
    timestamp = new long[slots];
    outIndex = new int[slots];
    uid = new long[slots];
    gid = new long[slots];
    state = new byte[slots];
    for (int i = 0; i < slots; i++) {
      clear(i);
    }
  }

  /**
   * @param i a slot index below the batch's size
   * @return the receive time in nanoseconds by {@link DivertHost#timestampClock()}, or {@link
   *     #ABSENT}
   */
  public long timestamp(int i) {
    return timestamp[i];
  }

  /**
   * @param i a slot index below the batch's size
   * @return the index of the interface the packet will leave by (forward and output chains), or
   *     {@link #ABSENT}
   */
  public int outInterfaceIndex(int i) {
    return outIndex[i];
  }

  /**
   * @param i a slot index below the batch's size
   * @return the uid owning the socket that sent a locally generated packet (unsigned 32 bits), or
   *     {@link #ABSENT}
   */
  public long uid(int i) {
    return uid[i];
  }

  /**
   * @param i a slot index below the batch's size
   * @return the gid owning the socket that sent a locally generated packet (unsigned 32 bits), or
   *     {@link #ABSENT}
   */
  public long gid(int i) {
    return gid[i];
  }

  /**
   * @param i a slot index below the batch's size
   * @return the connection state, or null when the backend does not know it
   */
  public ConnectionState connectionState(int i) {
    int s = state[i];
    return s < 0 ? null : STATES[s];
  }

  void clear(int i) {
    timestamp[i] = ABSENT;
    outIndex[i] = (int) ABSENT;
    uid[i] = ABSENT;
    gid[i] = ABSENT;
    state[i] = -1;
  }

  void set(int i, long timestamp, int outIndex, long uid, long gid, ConnectionState state) {
    this.timestamp[i] = timestamp;
    this.outIndex[i] = outIndex;
    this.uid[i] = uid;
    this.gid[i] = gid;
    this.state[i] = (byte) (state == null ? -1 : state.ordinal());
  }
}
