package org.divert4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.divert4j.Capability;
import org.divert4j.Chain;
import org.divert4j.DivertAddress;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.FragmentModeUnavailableException;
import org.divert4j.HostOptions;
import org.divert4j.PacketBatch;
import org.divert4j.SocketStats;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code divert dump}: the classic example program of the Divert Sockets HOWTO. It adds the rules,
 * binds the port, prints every diverted packet and writes it back (or drops it with {@code
 * --no-reinject}), until a count, a duration or Ctrl-C. With {@code --quiet} it prints only the
 * summary (packets, bytes, rates), so the same loop serves as a benchmark.
 *
 * <p>Ctrl-C closes the host from a shutdown hook; closing wakes the blocked receive, the loop ends
 * and the summary is printed before the JVM exits (peers.md c.1: never rely on signals to break a
 * blocking receive).
 */
@Command(
    name = "dump",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Divert packets to a port, print each one and write it back: the HOWTO's example program.",
      "",
      "Rule syntax (--rule): the chain (input, forward or output), then in any order:",
      "  -p PROTO       [icmp | udp | tcp | all | proto N]   protocol by name or number",
      "  -s ADDR[/LEN]  [from ADDR[/LEN]]                    source address or prefix",
      "  -d ADDR[/LEN]  [to ADDR[/LEN]]                      destination address or prefix",
      "  --sport P[:Q]  [sport P[:Q]]                        source port or range (udp, tcp)",
      "  --dport P[:Q]  [dport P[:Q]]                        destination port or range (udp, tcp)",
      "  --icmp-type T  [type T]                             ICMP type (icmp)",
      "  -i IFACE       [in IFACE]                           input interface (input, forward)",
      "  -o IFACE       [out IFACE]                          output interface (forward, output)",
      "  filter \"EXPR\"  [--filter \"EXPR\"]                    a WinDivert filter (docs/filters.md)",
      "  -j DIVERT PORT [port PORT | divert PORT]            the divert port (default: --port)",
      "Rules on ports or ICMP type match only first fragments; rules on protocol and addresses"
          + " match every fragment.",
      "Examples: \"input icmp\", \"input -p udp --dport 53\", \"forward -p tcp -d 10.0.2.0/24\".",
      ""
    },
    footerHeading = "%nExamples:%n",
    footer = {
      "  divert dump --backend sim --rule \"input icmp\" --generate 5",
      "  divert dump --rule \"input -p udp --dport 53\" --port 1234 --write dns.pcap",
      "  divert dump --backend sim --filter \"icmp.Type == 8 or udp.DstPort == 9\" --generate 6",
      "  divert dump --sniff --rule \"input -p udp\" --quiet --duration 10s",
      "  sudo ./divert dump --backend rawsocket --rule \"input icmp\" --quiet --duration 10s"
    })
final class DumpCommand implements Callable<Integer> {
  private static final Duration POLL = Duration.ofMillis(200);

  @Spec CommandSpec spec;

  @Mixin DivertOptionsMixin divert;

  @Option(
      names = {"-w", "--write"},
      paramLabel = "FILE",
      description = "Also write the packets to a pcap file (link type RAW: IP packets).")
  Path write;

  @Option(
      names = {"-c", "--count"},
      paramLabel = "N",
      converter = Converters.Count.class,
      description = "Stop after N packets.")
  Integer count;

  @Option(
      names = "--duration",
      paramLabel = "TIME",
      converter = Converters.Durations.class,
      description = "Stop after this long, e.g. 10s, 500ms, 2m.")
  Duration duration;

  @Option(
      names = "--stats-every",
      paramLabel = "TIME",
      converter = Converters.Durations.class,
      description =
          "Also print the socket's statistics to stderr at this interval, one line each: stats"
              + " ms=<since start> epochMs=<wall clock> and the socket's counters (for soak runs).")
  Duration statsEvery;

  @Option(names = "--no-reinject", description = "Drop every packet instead of writing it back.")
  boolean noReinject;

  @Option(
      names = "--sniff",
      description = {
        "Bind a sniffer instead of a diverting socket (capability SNIFF): print copies of the"
            + " packets while they go on at once; a slow or killed dump adds no latency and loses"
            + " only its own copies (counted in the summary as QUEUE_FULL)."
      })
  boolean sniff;

  @Option(
      names = {"-q", "--quiet"},
      description = "Print only the summary at the end (packets, bytes, rates): a benchmark.")
  boolean quiet;

  @Option(
      names = "--generate",
      paramLabel = "N",
      converter = Converters.Count.class,
      description = {
        "Open the backend's test bed and send N packets from its peer to the host (pings, UDP or"
            + " TCP, by the rules' protocols); dump ends when they are handled.",
        "Needed on the sim backend, whose host has no traffic of its own."
      })
  Integer generate;

  @Mixin HostOptionsMixin hostOptions;

  private final CountDownLatch running = new CountDownLatch(1);
  private final DumpTally tally = new DumpTally();
  private volatile boolean stopping;
  private DumpGenerator generator;
  private volatile AutoCloseable closeOnStop;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    List<DivertRule> parsed = divert.parseRules();
    if (sniff && noReinject) {
      throw CliException.usage(
          "--sniff and --no-reinject do not go together: a sniffer's packets have gone on already");
    }
    if (divert.netns != null && generate != null) {
      throw CliException.usage(
          "--netns and --generate do not go together: --generate uses the backend's own test bed");
    }
    DivertProvider provider = divert.provider();
    HostOptions.Builder options = divert.hostOptions(hostOptions);
    ShutdownHook hook = new ShutdownHook("divert-dump-shutdown", this::stop, Duration.ofSeconds(5));
    try (PcapWriter pcap = openPcap()) {
      // Before anything is opened: Ctrl-C during the open then ends the loop before it starts.
      hook.install();
      TestBed bed = null;
      DivertHost host;
      if (generate != null) {
        bed = provider.testBed(TestBedOptions.builder().host(options.build()).build());
        host = bed.host();
      } else {
        host = openHost(provider, options, err);
        if (provider.name().equals("sim")) {
          err.println(
              "dump: the sim backend's host has no traffic of its own; add --generate N to send"
                  + " some");
        }
      }
      closeOnStop = bed != null ? bed : host;
      if (stopping) {
        return ExitCodes.INTERRUPTED; // Ctrl-C came while it was opening; finally closes it
      }
      for (DivertRule r : parsed) {
        host.addRule(r);
      }
      DivertSocket socket = sniff ? bindSniffer(host) : host.bind(divert.port);
      if (!quiet) {
        err.println(
            "dump: "
                + DivertOptionsMixin.ruleTexts(parsed)
                + " on "
                + provider.name()
                + " host "
                + host.name()
                + (sniff ? "; copying" : noReinject ? "; dropping" : "; writing back")
                + " every packet"
                + (write != null ? ", saving to " + write : "")
                + "; Ctrl-C to stop");
      }
      if (bed != null) {
        generator = new DumpGenerator(bed, parsed);
        generator.start(generate, host.options().queueLength(), tally::handled, () -> stopping);
      }
      running.countDown();
      Thread stats = statsEvery == null ? null : startStatsPrinter(socket, err);
      try {
        loop(socket, out, err, pcap, bed == null ? Duration.ZERO : bed.settleTime());
      } finally {
        if (stats != null) {
          stats.interrupt();
          stats.join(1000);
        }
      }
      tally.summary(out, socket.stats(), host.stats(), sniff, noReinject, divert.port);
      if (pcap != null) {
        out.println("wrote " + pcap.records() + " packets to " + write);
      }
    } finally {
      stopping = true;
      closeQuietly(closeOnStop);
      hook.release();
    }
    if (generator != null && generator.error() != null) {
      throw CliException.peerCouldNotSend(generator.error());
    }
    return ExitCodes.OK;
  }

  /** Binds a sniffer, or fails with a usage error naming the capability the backend lacks. */
  private DivertSocket bindSniffer(DivertHost host) throws DivertException, CliException {
    if (!host.capabilities().contains(Capability.SNIFF)) {
      throw CliException.usage(
          "--sniff: backend "
              + host.backend()
              + " cannot bind sniffer sockets (it lacks capability SNIFF)");
    }
    return host.bindSniffer(divert.port);
  }

  /** Prints the socket's statistics every {@link #statsEvery} until interrupted or closed. */
  private Thread startStatsPrinter(DivertSocket socket, PrintWriter err) {
    long start = System.nanoTime();
    long every = Math.max(1, statsEvery.toNanos());
    Thread t =
        new Thread(
            () -> {
              long next = start + every;
              try {
                while (!stopping) {
                  long wait = next - System.nanoTime();
                  if (wait > 0) {
                    Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                  }
                  next += every;
                  SocketStats st = socket.stats();
                  err.println(
                      "stats ms="
                          + (System.nanoTime() - start) / 1_000_000
                          + " epochMs="
                          + System.currentTimeMillis()
                          + " "
                          + st);
                  err.flush();
                }
              } catch (InterruptedException e) {
                // stopped
              }
            },
            "divert-dump-stats");
    t.setDaemon(true);
    t.start();
    return t;
  }

  private void loop(
      DivertSocket socket, PrintWriter out, PrintWriter err, PcapWriter pcap, Duration settle)
      throws DivertException, IOException {
    PacketBatch batch = PacketBatch.allocate(divert.batchSize);
    ByteBuffer single = ByteBuffer.allocateDirect(PacketBatch.MAX_PACKET);
    PacketLine line = new PacketLine();
    long deadline = duration == null ? Long.MAX_VALUE : System.nanoTime() + duration.toNanos();
    Duration poll = settle.compareTo(POLL) > 0 ? settle : POLL;
    try {
      while (!stopping) {
        long left = deadline - System.nanoTime();
        long wanted = count == null ? Long.MAX_VALUE : count - tally.packets();
        if (left <= 0 || wanted <= 0) {
          break;
        }
        Duration wait = left < poll.toNanos() ? Duration.ofNanos(left) : poll;
        boolean drained = generator == null || generator.done(); // read before receiving
        int n;
        if (wanted < batch.capacity()) {
          n = receiveOne(socket, single.clear(), wait, out, line, pcap, err);
        } else {
          n = socket.receive(batch, wait);
          if (n > 0) {
            tally.markFirst();
            handleBatch(socket, batch, n, out, line, pcap, err);
          }
        }
        if (n == 0 && drained && generate != null) {
          break;
        }
      }
    } catch (DivertClosedException e) {
      if (!stopping) {
        throw e;
      }
    }
  }

  private void handleBatch(
      DivertSocket socket,
      PacketBatch batch,
      int n,
      PrintWriter out,
      PacketLine line,
      PcapWriter pcap,
      PrintWriter err)
      throws DivertException, IOException {
    long micros = pcap == null ? 0 : epochMicros();
    for (int i = 0; i < n; i++) {
      ByteBuffer p = batch.packet(i);
      if (!quiet) {
        out.println(line.describe(batch, i));
      }
      if (pcap != null) {
        pcap.write(p, micros);
      }
      tally.bytes(p.remaining());
      if (noReinject) {
        batch.drop(i);
      }
    }
    if (sniff) {
      tally.counted(n); // copies: the packets have gone on already (S71)
      return;
    }
    socket.send(batch);
    for (int i = 0; i < n; i++) {
      if (batch.error(i) != null) {
        tally.sendError(err, batch.error(i));
      }
    }
    tally.counted(n);
  }

  private int receiveOne(
      DivertSocket socket,
      ByteBuffer buf,
      Duration wait,
      PrintWriter out,
      PacketLine line,
      PcapWriter pcap,
      PrintWriter err)
      throws DivertException, IOException {
    DivertAddress a = socket.receive(buf, wait);
    if (a == null) {
      return 0;
    }
    tally.markFirst();
    buf.flip();
    if (!quiet) {
      Chain chain = a.chain().orElse(null);
      out.println(PacketLine.where(chain, a.direction(), a.interfaceName()) + line.decode(buf));
    }
    if (pcap != null) {
      pcap.write(buf, epochMicros());
    }
    tally.bytes(buf.remaining());
    try {
      if (sniff) {
        // a copy: the packet has gone on already (S71)
      } else if (noReinject) {
        socket.drop(a);
      } else {
        socket.send(buf, a);
      }
    } catch (DivertClosedException e) {
      throw e;
    } catch (DivertException e) {
      tally.sendError(err, e);
    }
    tally.counted(1);
    return 1;
  }

  // ------------------------------------------------------------------------------- stopping

  /** Ends the loop as Ctrl-C does: closing the host wakes the blocked receive. Any thread. */
  void stop() {
    stopping = true;
    closeQuietly(closeOnStop);
  }

  /**
   * @return true once the loop is receiving (for tests)
   */
  boolean awaitRunning(Duration timeout) throws InterruptedException {
    return running.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (Exception e) {
      // Closing on the way out: the summary matters more than a failed cleanup, and the next
      // open on the backend retries it (S51).
    }
  }

  /**
   * Opens the host. Where the user named no fragment mode and per-fragment diversion is impossible
   * (a stateful host: connection tracking turns defragmentation on), opens in always-defragment
   * mode instead and says why in one line; the API's default stays per-fragment.
   */
  private DivertHost openHost(DivertProvider provider, HostOptions.Builder options, PrintWriter err)
      throws IOException {
    try {
      return provider.open(options.build());
    } catch (FragmentModeUnavailableException e) {
      if (hostOptions.fragments != null) {
        throw e;
      }
      err.println(
          "dump: using --fragments "
              + HostOptionsMixin.spell(e.available())
              + ": this host already reassembles fragments before the rules (connection tracking"
              + " or NAT is in use), so per-fragment diversion is impossible here");
      return provider.open(options.fragments(e.available()).build());
    }
  }

  /** Opens the pcap file first, so a bad path fails before anything is diverted. */
  private PcapWriter openPcap() throws CliException {
    if (write == null) {
      return null;
    }
    try {
      return new PcapWriter(write);
    } catch (IOException e) {
      throw new CliException(
          ExitCodes.FAILURE, "cannot write the pcap file " + write + ": " + reason(e), e);
    }
  }

  private static String reason(IOException e) {
    if (e instanceof java.nio.file.NoSuchFileException) {
      return "no such directory";
    }
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied";
    }
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }

  private static long epochMicros() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000 + now.getNano() / 1000;
  }
}
