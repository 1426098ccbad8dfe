package org.divert4j.pcap;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import org.divert4j.DivertHost;
import org.divert4j.pcap.internal.PcapHost;
import org.divert4j.pcap.internal.Replay;

/**
 * Drives a savefile replay: a pcap host opened with {@code pcap.input} and {@code pcap.output} (see
 * {@link PcapProvider}). A replay is how a program is run on a real capture and its effect opened
 * in Wireshark:
 *
 * <pre>{@code
 * HostOptions o = HostOptions.builder()
 *     .property(PcapProvider.INPUT, "in.pcap").property(PcapProvider.OUTPUT, "out.pcap")
 *     .property(PcapProvider.LOCAL, "192.168.1.0/24")   // their packets are outbound
 *     .build();
 * try (DivertHost host = new PcapProvider().open(o)) {
 *   host.addRule(DivertRule.parse("input -p udp -j DIVERT 4000"));
 *   DivertSocket s = host.bind(4000);                  // the replay starts here
 *   PcapReplay replay = PcapReplay.of(host);
 *   ByteBuffer buf = ByteBuffer.allocate(65535);
 *   while (!replay.isFinished()) {
 *     DivertAddress a = s.receive(buf.clear(), Duration.ofMillis(100));
 *     if (a != null) { s.send(buf.flip(), a); }       // or change, drop, inject ...
 *   }
 * }                                                    // out.pcap is complete
 * }</pre>
 *
 * <p>How a replay runs:
 *
 * <ul>
 *   <li><b>Start</b>: by default when the first socket is bound on the host ({@code
 *       pcap.start=bind}), so that packets do not meet the no-listener policy before the program is
 *       ready; a program with several sockets binds them all with {@code pcap.start=manual} and
 *       then calls {@link #start()}; {@code pcap.start=open} starts at once (rules only, no
 *       sockets).
 *   <li><b>Direction</b>: packets from sources in {@code pcap.local} are outbound (output chain),
 *       all others inbound (input chain), on the host's one interface {@code pcap0}. Without {@code
 *       pcap.local}, a Linux cooked capture ({@code tcpdump -i any}) says itself which packets the
 *       capturing host sent (they are outbound); in other captures all are inbound.
 *   <li><b>Pace</b>: as fast as the program keeps up, never faster: the replay waits when a
 *       socket's queue is full, so nothing is lost to queue overflow.
 *   <li><b>End</b>: {@link #isFinished()} once every input packet has been processed and every
 *       diverted packet written back, dropped or expired; the output capture is then flushed. A
 *       receive loop can also end on {@code DivertClosedException} with {@code
 *       pcap.closeOnEnd=true}, which closes the host at the end.
 *   <li><b>Output</b>: what passes, in the order it passes, with the timestamp of the input packet
 *       it comes from (packets the program built get the replay clock: the latest input timestamp),
 *       in the input's link type; ARP and other non-IPv4 frames are copied through. A diverted
 *       packet is written when the program writes it back, possibly after later packets that were
 *       not diverted: sort by timestamp with Wireshark's {@code reordercap} if needed.
 * </ul>
 *
 * <p>Thread-safe.
 */
public final class PcapReplay {
  private final Replay replay;

  private PcapReplay(Replay replay) {
    this.replay = replay;
  }

  /**
   * The replay of a host.
   *
   * @param host a host opened by the pcap provider with {@code pcap.input} (or a socket's {@code
   *     host()} of one)
   * @return its replay
   * @throws IllegalArgumentException if the host is not a pcap savefile host
   */
  public static PcapReplay of(DivertHost host) {
    Objects.requireNonNull(host, "host");
    Replay r = PcapHost.replayOf(host);
    if (r == null) {
      throw new IllegalArgumentException(
          "not a pcap savefile host (open it with " + PcapProvider.INPUT + "): " + host);
    }
    return new PcapReplay(r);
  }

  /**
   * @param o another object
   * @return true if it is a handle on the same replay
   */
  @Override
  public boolean equals(Object o) {
    return o instanceof PcapReplay p && p.replay == replay;
  }

  @Override
  public int hashCode() {
    return System.identityHashCode(replay);
  }

  /** Starts the replay now, if it has not started. Does not block. */
  public void start() {
    replay.start();
  }

  /**
   * @return true once the replay has started
   */
  public boolean isStarted() {
    return replay.started();
  }

  /**
   * @return true once every packet of the input capture has been read and processed (diverted
   *     packets may still be held by the program)
   */
  public boolean isInputDone() {
    return replay.inputDone();
  }

  /**
   * @return true once the input is done and no socket holds or queues a packet; the output capture
   *     is then complete and flushed (also true after the host closed)
   */
  public boolean isFinished() {
    return replay.finished();
  }

  /**
   * Waits for the end of the replay. Blocks.
   *
   * @param timeout how long to wait
   * @return true if the replay finished in time
   * @throws InterruptedException if interrupted
   */
  public boolean awaitFinished(Duration timeout) throws InterruptedException {
    return replay.awaitFinished(timeout);
  }

  /**
   * @return packets read from the input capture so far
   */
  public long packetsRead() {
    return replay.packetsRead();
  }

  /**
   * @return packets written to the output capture so far
   */
  public long packetsWritten() {
    return replay.packetsWritten();
  }

  /**
   * @return the input capture
   */
  public Path input() {
    return replay.input();
  }

  /**
   * @return the output capture
   */
  public Path output() {
    return replay.output();
  }

  /**
   * @return the error that ended the replay early (reading the input or writing the output), or
   *     null
   */
  public Throwable failure() {
    return replay.failure();
  }

  @Override
  public String toString() {
    return replay.toString();
  }
}
