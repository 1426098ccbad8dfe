package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import java.util.concurrent.locks.ReentrantLock;
import org.divert4j.Chain;
import org.divert4j.linux.Native;
import org.divert4j.packet.Ipv4View;

/**
 * One NFQUEUE queue of a divert socket (with {@code parallelism(n)} a socket has n): its channel,
 * the packet being delivered from it, and its pending verdicts.
 *
 * <p>The receive state is guarded by {@link #rxLock} (taken by {@link Receiver}); {@link #verdicts}
 * by the socket's send lock ({@link Verdicts}).
 */
final class Lane {
  final int index;
  final NfqChannel ch;
  final ReentrantLock rxLock = new ReentrantLock();
  final NfqPacket pkt = new NfqPacket();
  final Ipv4View view = new Ipv4View();
  final OutboundSplitter splitter = new OutboundSplitter();
  final VerdictRun verdicts;
  final IdGapCounter ids = new IdGapCounter();
  final LaneBacklog backlog;

  // receive state (rxLock): the decoded packet waiting to be delivered
  boolean have;
  ByteBuffer srcBuf;
  int srcOff;
  int srcLen;
  Chain curChain;
  int curTag;
  ByteBuffer jumbo;
  long kernelMessages;

  Lane(int index, NfqChannel ch, Tickets tickets, SocketLedger ledger) {
    this.index = index;
    this.ch = ch;
    this.verdicts = new VerdictRun(ch, index, tickets, ledger);
    this.backlog = new LaneBacklog(ch);
  }

  /**
   * @return the length of the packet (or, after an S19 cut, of the fragment) delivered next
   */
  int currentLength() {
    return splitter.active() ? splitter.currentLength() : srcLen;
  }

  /**
   * @return a 64 KiB buffer for packets longer than NFQUEUE hands over, allocated on first use
   */
  ByteBuffer jumbo() {
    if (jumbo == null) {
      jumbo = Native.allocate(JumboTap.MAX); // IPv6: 40 + 65535 bytes
    }
    return jumbo;
  }
}
