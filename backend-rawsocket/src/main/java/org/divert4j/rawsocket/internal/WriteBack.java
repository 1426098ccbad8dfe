package org.divert4j.rawsocket.internal;

import java.util.function.IntSupplier;
import org.divert4j.Chain;
import org.divert4j.DivertException;
import org.divert4j.DropReason;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;

/**
 * Writing a held packet back, or dropping it: a verdict on its lane for packets still queued in
 * NFQUEUE (NF_REPEAT with the "resume after this rule" mark, with the packet as payload only when
 * it changed or needs an IP ID, S39), the raw socket for the fragments of an S19 cut, for changed
 * packets too long for a verdict and for forwarded IPv6 datagrams above the egress MTU.
 *
 * <p>Not thread-safe: used under the socket's send lock.
 */
final class WriteBack {
  private static final Chain[] CHAINS = Chain.values();

  private final Lane[] lanes;
  private final SocketState state;
  private final Tickets tickets;
  private final SendBuffer out;
  private final Injector injector;
  private final SocketLedger ledger;
  private final IntSupplier ids;
  private final Marks marks;

  WriteBack(
      Lane[] lanes,
      SocketState state,
      Tickets tickets,
      SendBuffer out,
      Injector injector,
      SocketLedger ledger,
      IntSupplier ids,
      Marks marks) {
    this.marks = marks;
    this.lanes = lanes;
    this.state = state;
    this.tickets = tickets;
    this.out = out;
    this.injector = injector;
    this.ledger = ledger;
    this.ids = ids;
  }

  /**
   * Writes back the loaded packet as the held packet in {@code slot}.
   *
   * @param slot a live slot from {@link Tickets#find}
   * @param len the loaded packet's length
   * @param own the packet's mark as the program leaves it (only the bits outside the backend's mask
   *     are used, S73)
   */
  void reinject(int slot, int len, int own) throws DivertException {
    TicketRing ring = tickets.ring();
    if (ring.kind(slot) == TicketRing.KERNEL) {
      reinjectQueued(slot, len, own);
    } else {
      int m = resumeMark(slot, own);
      injector.reinject(len, m);
      tickets.remove(slot);
    }
  }

  private int resumeMark(int slot, int own) {
    TicketRing ring = tickets.ring();
    return marks.writtenBack(ring.mark(slot), own, CHAINS[ring.chain(slot)], ring.ruleId(slot));
  }

  private void reinjectQueued(int slot, int len, int own) throws DivertException {
    TicketRing ring = tickets.ring();
    Lane l = lanes[ring.lane(slot)];
    boolean changed =
        len != ring.length(slot)
            || (ring.flags(slot) & TicketRing.F_ID_ZERO) != 0
            || ContentHash.hash(out.buffer(), 0, len) != ring.hash(slot);
    Chain c = CHAINS[ring.chain(slot)];
    int flags = ring.flags(slot);
    // S69: the stack segments a written-back super-packet, so S27's MTU check is not its
    if (changed && c != Chain.INPUT && (flags & TicketRing.F_GSO) == 0) {
      injector.checkEgressMtu(
          len, ring.outIndex(slot), c == Chain.OUTPUT || len > ring.length(slot));
    }
    int tag = ring.ruleId(slot);
    int verdict = tag != 0 ? NfqCodec.NF_REPEAT : NfqCodec.NF_ACCEPT;
    // NFQA_MARK replaces the whole skb->mark (nfnetlink_queue.c, nfqnl_recv_verdict), so the
    // verdict carries the packet's own bits outside the mask (or the program's, S73) and changes
    // only the backend's state; it is sent when the state changes or the program changed a bit
    int mark = marks.writtenBack(ring.mark(slot), own, c, tag);
    boolean withMark = tag != 0 || mark != ring.mark(slot);
    long seq = ring.seq(slot);
    int id = ring.kernelId(slot);
    boolean refragment =
        c != Chain.OUTPUT
            && (flags & TicketRing.F_GSO) == 0
            && injector.refragmentsOnTheWay6(
                len, ring.outIndex(slot), c == Chain.INPUT, ring.mark(slot));
    if ((changed && len > NfqCodec.MAX_COPY_RANGE) || refragment) {
      // a verdict payload cannot exceed 65531 bytes either, and a forwarded IPv6 datagram above
      // the egress MTU would be dropped by the kernel (S58, S23): drop the queued packet and send
      // the
      // new one through the raw socket, resuming after the rule that diverted it
      int m = resumeMark(slot, own);
      tickets.remove(slot);
      l.verdicts.add(seq, id, NfqCodec.NF_DROP, false, 0);
      injector.reinject(len, m);
      return;
    }
    tickets.remove(slot);
    if (!changed) {
      l.verdicts.add(seq, id, verdict, withMark, mark);
    } else {
      if ((flags & TicketRing.F_CSUM_PARTIAL) != 0) {
        TransportChecksum.complete(out.buffer(), len);
      }
      try {
        l.verdicts.appendWithPayload(id, verdict, withMark, mark, out.buffer(), len, ids);
      } catch (ErrnoException e) {
        state.checkOpen();
        throw Errors.generic("verdict on divert port " + state.port(), e);
      }
    }
    ledger.reinjected(len);
  }

  /**
   * Drops a held packet (S9); nothing if the ticket is not live.
   *
   * @param ticket the packet's ticket
   */
  void drop(long ticket) {
    int slot = tickets.find(ticket);
    if (slot < 0) {
      return;
    }
    TicketRing ring = tickets.ring();
    if (ring.kind(slot) == TicketRing.KERNEL) {
      Lane l = lanes[ring.lane(slot)];
      long seq = ring.seq(slot);
      int id = ring.kernelId(slot);
      tickets.remove(slot);
      l.verdicts.add(seq, id, NfqCodec.NF_DROP, false, 0);
    } else {
      tickets.remove(slot);
    }
    ledger.drop(DropReason.PROGRAM);
  }
}
