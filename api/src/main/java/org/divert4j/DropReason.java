package org.divert4j;

/** Why a packet was dropped; statistics count drops per reason (S50). */
public enum DropReason {
  /** The socket's queue was full (S15). */
  QUEUE_FULL,
  /** The kernel could not hand the packet over: netlink ENOBUFS (S50). */
  NO_BUFFER,
  /** The program dropped it, with {@link DivertSocket#drop(DivertAddress)} or a batch. */
  PROGRAM,
  /** It was held longer than {@link HostOptions#holdTimeout()} without a verdict. */
  HOLD_EXPIRED,
  /** It was queued or held when the socket closed (S14). */
  CLOSED,
  /** A DIVERT rule matched and no socket was bound to its port, with DROP policy (S11). */
  NO_LISTENER,
  /** Reassembly timed out before all fragments arrived (S24). */
  REASSEMBLY_TIMEOUT,
  /** Fragments overlapped (S24, CVE-2018-5391). */
  REASSEMBLY_OVERLAP,
  /** Reassembly memory was exhausted (S24). */
  REASSEMBLY_MEMORY,
  /** A fragment was invalid: beyond 65535 bytes, or inconsistent with its datagram. */
  REASSEMBLY_INVALID,
  /** The capture layer lost it before divert4j saw it (pcap's own drop counters). */
  CAPTURE,
  /**
   * The backend could not put it on the wire: larger than the egress interface's MTU (and not to be
   * fragmented), or the send itself failed (pcap: {@code pcap_inject}). Counted in host statistics
   * only: such a frame may be one no rule diverted, so it belongs to no socket.
   */
  TRANSMIT
}
