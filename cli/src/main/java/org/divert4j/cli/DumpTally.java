package org.divert4j.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import org.divert4j.DivertException;
import org.divert4j.DropReason;
import org.divert4j.HostStats;
import org.divert4j.SocketStats;

/**
 * What {@code divert dump}'s loop has handled: packets, bytes, write-back failures (the first few
 * printed), the time from the first receive to the last packet handled, and the summary printed at
 * the end. Counted by the loop's thread; {@link #handled()} may be read from any thread.
 */
final class DumpTally {
  private static final int MAX_ERROR_LINES = 10;

  private final AtomicLong handled = new AtomicLong();
  private long packets;
  private long bytes;
  private long sendErrors;
  private long firstNanos;
  private long lastNanos;

  /**
   * @return packets handled so far (the loop's thread)
   */
  long packets() {
    return packets;
  }

  /**
   * @return packets handled so far, from any thread
   */
  long handled() {
    return handled.get();
  }

  /** A receive returned packets: the first starts the clock. */
  void markFirst() {
    if (packets == 0) {
      firstNanos = System.nanoTime();
    }
  }

  void bytes(int n) {
    bytes += n;
  }

  void counted(int n) {
    lastNanos = System.nanoTime();
    packets += n;
    handled.addAndGet(n);
  }

  void sendError(PrintWriter err, DivertException e) {
    sendErrors++;
    if (sendErrors <= MAX_ERROR_LINES) {
      err.println("dump: write-back failed: " + e.getMessage());
    } else if (sendErrors == MAX_ERROR_LINES + 1) {
      err.println("dump: more write-back failures; the summary counts them");
    }
  }

  /**
   * Prints the packets, bytes and rates, what became of the packets, and the socket's and host's
   * counts.
   *
   * @param sniff the socket was a sniffer
   * @param noReinject the loop dropped every packet
   * @param port the divert port
   */
  void summary(
      PrintWriter out, SocketStats s, HostStats h, boolean sniff, boolean noReinject, int port) {
    double seconds = (lastNanos - firstNanos) / 1e9;
    StringBuilder sb = new StringBuilder();
    sb.append(packets).append(packets == 1 ? " packet, " : " packets, ");
    sb.append(bytes).append(" bytes");
    if (packets > 0 && seconds > 0) {
      // From the first receive to the last write-back: the loop's own rate, idle time excluded.
      sb.append(
          String.format(
              Locale.ROOT,
              " in %.3f s: %.0f packets/s, %.3f Mbit/s",
              seconds,
              packets / seconds,
              bytes * 8.0 / 1e6 / seconds));
    }
    out.println(sb);
    out.println(
        (sniff
                ? "copied " + packets
                : noReinject ? "dropped " + packets : "written back " + (packets - sendErrors))
            + (sendErrors > 0 ? ", write-back failures " + sendErrors : "")
            + "; socket "
            + port
            + ": received "
            + s.received()
            + ", written back "
            + s.reinjected()
            + ", dropped "
            + s.dropped(DropReason.PROGRAM)
            + ", lost "
            + (s.droppedTotal() - s.dropped(DropReason.PROGRAM))
            + (s.droppedTotal() - s.dropped(DropReason.PROGRAM) > 0 ? " " + s.drops() : "")
            + (s.failOpenAccepted() > 0 ? ", passed by fail-open " + s.failOpenAccepted() : ""));
    if (h.droppedTotal() > 0) {
      // What the host lost outside any socket: frames it could not transmit (DropReason.TRANSMIT,
      // possibly of traffic no rule diverted), reassembly, capture losses.
      out.println("host " + h.droppedTotal() + " lost " + h.drops());
    }
  }
}
