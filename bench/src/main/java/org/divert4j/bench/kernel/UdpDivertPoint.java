package org.divert4j.bench.kernel;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.PacketBatch;
import org.divert4j.bench.BenchTools;
import org.divert4j.linux.testbed.Netns;

/**
 * What serves {@link KernelBench}'s UDP divert point (port {@link #PORT}) during one measurement,
 * by mode: nothing ({@link #NONE}), divert4j reflector threads ({@link #D4J}), or a C
 * libnetfilter_queue program ({@link #C_ONE}, {@link #C_BATCH}, either with {@link #REPEAT}).
 * Closing it removes it.
 */
final class UdpDivertPoint implements AutoCloseable {
  static final int PORT = 9000;
  static final int QUEUE = 4200;
  private static final Duration WAIT = Duration.ofMillis(100);

  static final String NONE = "no rule";
  static final String D4J = "divert4j";
  static final String C_ONE = "C nfq 1 verdict/pkt";
  static final String C_BATCH = "C nfq recvmmsg+batch";
  static final String REPEAT = ", NF_REPEAT";
  static final String C_ONE_REPEAT = C_ONE + REPEAT;
  static final String C_BATCH_REPEAT = C_BATCH + REPEAT;

  final List<Thread> reflectors = new ArrayList<>();
  final AtomicLong[] counts;
  final AtomicLong sendNanos = new AtomicLong(); // time in send(PacketBatch), all threads
  private final Netns host;
  private final Path cdir;
  private final int batch;
  private final boolean offload;
  private volatile boolean stop;
  private DivertHost dh;
  private Process nfq;

  /**
   * @param mode one of the mode names
   * @param lanes divert4j's parallelism and reflector threads
   * @param host the namespace of the sink
   * @param cdir where the C programs are
   * @param batch the divert4j batch size
   */
  UdpDivertPoint(String mode, int lanes, Netns host, Path cdir, int batch) throws Exception {
    this(mode, lanes, host, cdir, batch, false);
  }

  /**
   * @param offload divert4j's {@code segmentOffload} option (S69; the allocation section measures
   *     the reader with it on as well)
   */
  UdpDivertPoint(String mode, int lanes, Netns host, Path cdir, int batch, boolean offload)
      throws Exception {
    this.offload = offload;
    this.counts = new AtomicLong[lanes];
    this.host = host;
    this.cdir = cdir;
    this.batch = batch;
    try {
      if (mode.equals(D4J)) {
        startDivert4j(lanes);
      } else if (mode.startsWith("C nfq")) {
        startC(mode.startsWith(C_ONE) ? "nfq_one" : "nfq_batch", mode.endsWith(REPEAT));
      }
    } catch (Exception e) {
      close();
      throw e;
    }
  }

  private void startDivert4j(int lanes) throws Exception {
    dh = BenchTools.openKernelHost(host, batch, lanes, offload);
    DivertSocket s = dh.bind(QUEUE);
    dh.addRule(DivertRule.parse("input -p udp --dport " + PORT + " -j DIVERT " + QUEUE));
    for (int t = 0; t < lanes; t++) {
      AtomicLong count = new AtomicLong();
      counts[t] = count;
      Thread reflector =
          new Thread(
              () -> {
                // The loop under test: nothing here allocates per packet (WAIT is a constant).
                PacketBatch b = PacketBatch.allocate(batch, 2048, true);
                try {
                  while (!stop) {
                    int n = s.receive(b, WAIT);
                    if (n > 0) {
                      long t0 = System.nanoTime();
                      s.send(b);
                      sendNanos.lazySet(sendNanos.get() + System.nanoTime() - t0);
                      count.lazySet(count.get() + n);
                    }
                  }
                } catch (Exception e) {
                  if (!stop) {
                    e.printStackTrace();
                  }
                }
              },
              "bench-reflector-" + t);
      reflector.start();
      reflectors.add(reflector);
    }
  }

  private void startC(String program, boolean repeat) throws IOException {
    // a reinjected packet carries mark bit 0x1 and runs the table again: skip it
    String[] skipRepeated =
        repeat ? new String[] {"-m", "mark", "!", "--mark", "0x1/0x1"} : new String[0];
    BenchTools.addNfqueueRule(host, "iptables", "udp", PORT, QUEUE, skipRepeated);
    nfq =
        repeat
            ? BenchTools.start(cdir, host, program, Integer.toString(QUEUE), "repeat")
            : BenchTools.start(cdir, host, program, Integer.toString(QUEUE));
    if (!BenchTools.line(nfq).equals("ready")) {
      throw new IOException(program + " did not start");
    }
  }

  /**
   * @return the packets the reflectors wrote back so far
   */
  long packets() {
    long n = 0;
    for (AtomicLong c : counts) {
      n += c == null ? 0 : c.get();
    }
    return n;
  }

  @Override
  public void close() throws Exception {
    stop = true;
    BenchTools.closeDivertPoint(reflectors, dh, nfq, host, "iptables");
  }
}
