package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import java.util.function.IntSupplier;
import org.divert4j.DropReason;
import org.divert4j.linux.ErrnoException;
import org.divert4j.packet.Ipv4View;
import org.divert4j.packet.Ipv6View;
import org.divert4j.packet.SendFixups;

/**
 * The pending verdicts of one lane: a transmit buffer of NFQUEUE verdict messages that goes to the
 * kernel in one system call, and the current run of unchanged packets with the same verdict, which
 * becomes one {@code NFQNL_MSG_VERDICT_BATCH} when no other held packet of the queue came before
 * its last one (a batch verdict releases every queued packet with an id up to its own:
 * net/netfilter/nfnetlink_queue.c, {@code nfqnl_recv_verdict_batch}).
 *
 * <p>Every verdict, whether given at once, coalesced, mangled or for an expired packet, is written
 * by {@link #append} or {@link #appendWithPayload}. Not thread-safe: guarded by the socket's send
 * lock ({@link Verdicts}).
 */
final class VerdictRun {
  private static final int ROOM = NfqCodec.VERDICT_SIZE + NfqCodec.MARK_SIZE + 64;

  private final NfqChannel ch;
  private final int lane;
  private final Tickets tickets;
  private final SocketLedger ledger;
  private final Ipv4View fixView = new Ipv4View();
  private final Ipv6View fixView6 = new Ipv6View();
  private int txLen;
  private final int[] ids = new int[1024];
  private int count;
  private long lastSeq;
  private int maxId;
  private int verdict;
  private int mark;
  private boolean setMark;

  VerdictRun(NfqChannel ch, int lane, Tickets tickets, SocketLedger ledger) {
    this.ch = ch;
    this.lane = lane;
    this.tickets = tickets;
    this.ledger = ledger;
  }

  /**
   * Writes one verdict, sending what is pending first if the buffer is full.
   *
   * @throws ErrnoException if that send failed (the pending verdicts are lost with it)
   */
  void append(int id, int v, boolean withMark, int m) throws ErrnoException {
    room(ROOM);
    ByteBuffer tx = ch.txBuffer();
    int p = NfqCodec.verdict(tx, txLen, false, ch.queue(), v, id, withMark, m);
    txLen = NfqCodec.end(tx, txLen, p);
  }

  /**
   * Writes one verdict that replaces the packet with {@code len} bytes of {@code src} and applies
   * the section-H fix-ups to that copy: {@code nfqnl_mangle} copies a payload as it is (S38-S40).
   *
   * @throws ErrnoException if sending what was pending failed
   */
  void appendWithPayload(
      int id, int v, boolean withMark, int m, ByteBuffer src, int len, IntSupplier ids)
      throws ErrnoException {
    flushRun();
    room(ROOM + 4 + len);
    ByteBuffer tx = ch.txBuffer();
    int p = NfqCodec.verdict(tx, txLen, false, ch.queue(), v, id, withMark, m);
    int data = NfqCodec.payloadHeader(tx, p, len);
    tx.put(data, src, 0, len);
    SendFixups.apply(tx, data, len, fixView, fixView6, ids); // by the version nibble (S61)
    txLen = NfqCodec.end(tx, txLen, data + len);
  }

  /**
   * Adds an unchanged packet's verdict to the run, ending the run first if it differs.
   *
   * @param seq the packet's sequence number in the ticket ring
   */
  void add(long seq, int id, int v, boolean withMark, int m) {
    if (count > 0 && (count == ids.length || v != verdict || withMark != setMark || m != mark)) {
      flushRun();
    }
    if (count == 0) {
      verdict = v;
      setMark = withMark;
      mark = m;
      lastSeq = seq;
      maxId = id;
    }
    ids[count++] = id;
    if (seq > lastSeq) {
      lastSeq = seq;
    }
    if ((id - maxId) > 0) { // nfq_id_after
      maxId = id;
    }
  }

  /** Turns the run into verdict messages (one batch verdict where allowed). */
  void flushRun() {
    if (count == 0) {
      return;
    }
    int n = count;
    count = 0;
    if (n >= 2 && tickets.noKernelEntryBefore(lastSeq + 1, lane, 4096)) {
      ByteBuffer tx = ch.txBuffer();
      int p = NfqCodec.verdict(tx, txLen, true, ch.queue(), verdict, maxId, setMark, mark);
      txLen = NfqCodec.end(tx, txLen, p);
      return;
    }
    for (int i = 0; i < n; i++) {
      try {
        append(ids[i], verdict, setMark, mark);
      } catch (ErrnoException e) {
        // the kernel refused the datagram as a whole; the rest of the run is lost with it
        ledger.drop(DropReason.NO_BUFFER, n - i);
        return;
      }
    }
  }

  /**
   * @return true if verdicts wait in the buffer
   */
  boolean pending() {
    return txLen > 0;
  }

  /**
   * Sends the buffer to the kernel.
   *
   * @throws ErrnoException if the send failed (the verdicts are lost with it)
   */
  void flush() throws ErrnoException {
    int len = txLen;
    txLen = 0;
    ch.flush(len);
  }

  private void room(int bytes) throws ErrnoException {
    if (txLen + bytes > NfqChannel.TX_SIZE) {
      flush();
    }
  }
}
