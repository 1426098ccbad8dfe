package org.divert4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.HostOptions;
import org.divert4j.impair.ImpairStats;
import org.divert4j.impair.Impairer;
import org.divert4j.impair.ImpairerBuilder;
import org.divert4j.impair.Impairment;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code divert impair}: a network-condition emulator, like WinDivert's clumsy or {@code tc netem},
 * on the divert4j-impair library ({@link Impairer}). Every rule gets the same impairment, with
 * state and random streams of its own. Ctrl-C (or SIGTERM) stops it from a shutdown hook: the loop
 * ends, held packets are written back, the rules are removed and the summary is printed.
 */
@Command(
    name = "impair",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Impair the packets the rules divert: delay and jitter, loss (random or in bursts),"
          + " duplication, reordering, a rate limit, corruption; like tc netem or clumsy.",
      "",
      "Stages, in netem's order: loss, duplication, corruption, rate limit, delay (+ jitter),"
          + " where reordered packets skip the delay. Rule syntax as in 'divert dump --help'.",
      "Each rule's chain is its direction: impair both ways with an input and an output rule.",
      ""
    },
    footerHeading = "%nExamples:%n",
    footer = {
      "  sudo ./divert impair --rule \"input udp dport 9000\" --port 77 --delay 20ms --jitter 5ms"
          + " --loss 10%% --seed 1",
      "  sudo ./divert impair --netns blue --rule \"output icmp\" --delay 100ms --duplicate 1%%",
      "  sudo ./divert impair --rule \"input tcp sport 5201\" --rate 10mbit --burst 15k",
      "  ./divert impair --backend sim --rule \"input udp dport 9000\" --loss 50%% --generate 100",
      "Prints the counts when it ends (--duration, Ctrl-C or SIGTERM). See docs/impair.md."
    })
final class ImpairCommand implements Callable<Integer> {
  private static final Duration POLL = Duration.ofMillis(100);
  private static final long IDLE_END_NANOS = TimeUnit.SECONDS.toNanos(1);

  @Spec CommandSpec spec;

  @Mixin DivertOptionsMixin divert;

  @Option(
      names = "--delay",
      paramLabel = "TIME",
      defaultValue = "0",
      converter = ImpairConverters.Time.class,
      description = "Delay every packet this long, e.g. 20ms, 500us.")
  Duration delay;

  @Option(
      names = "--jitter",
      paramLabel = "TIME",
      defaultValue = "0",
      converter = ImpairConverters.Time.class,
      description = "Vary the delay uniformly by up to this much either way (never below 0).")
  Duration jitter;

  @Option(
      names = "--loss",
      paramLabel = "P",
      converter = ImpairConverters.Probability.class,
      description = "Lose packets independently with probability P, e.g. 10%% or 0.1.")
  Double loss;

  @Option(
      names = "--loss-ge",
      paramLabel = "P,R[,BAD[,GOOD]]",
      converter = ImpairConverters.GilbertElliott.class,
      description = {
        "Lose packets in bursts (Gilbert-Elliott, as netem's gemodel): good to bad with P, bad to"
            + " good with R, loss BAD in the bad state (default 100%%), GOOD in the good state"
            + " (default 0%%). Mean burst 1/R packets, e.g. 1%%,25%%."
      })
  double[] lossGe;

  @Option(
      names = "--duplicate",
      paramLabel = "P",
      converter = ImpairConverters.Probability.class,
      description = "Send a packet twice with probability P.")
  Double duplicate;

  @Option(
      names = "--reorder",
      paramLabel = "P",
      converter = ImpairConverters.Probability.class,
      description =
          "Let a packet skip the delay with probability P, overtaking others (needs" + " --delay).")
  Double reorder;

  @Option(
      names = "--rate",
      paramLabel = "RATE",
      converter = ImpairConverters.Rate.class,
      description = "Limit each rule to RATE (IP bytes), a token bucket, e.g. 10mbit, 500kbit.")
  Long rate;

  @Option(
      names = "--burst",
      paramLabel = "SIZE",
      defaultValue = "0",
      converter = ImpairConverters.Size.class,
      description =
          "The token bucket's depth, e.g. 15k (default 0: each packet waits its own"
              + " transmission time).")
  long burst;

  @Option(
      names = "--rate-queue",
      paramLabel = "TIME",
      defaultValue = "100ms",
      converter = ImpairConverters.Time.class,
      description =
          "Drop a packet that would wait longer than this for the rate limit (default:"
              + " ${DEFAULT-VALUE}).")
  Duration rateQueue;

  @Option(
      names = "--corrupt",
      paramLabel = "P",
      converter = ImpairConverters.Probability.class,
      description = "Flip one random bit of a packet's transport payload with probability P.")
  Double corrupt;

  @Option(
      names = "--no-fix-checksum",
      description =
          "Leave a corrupted packet's transport checksum wrong (the receiver drops it);"
              + " by default it is recomputed, so the changed bytes are delivered.")
  boolean noFixChecksum;

  @Option(
      names = "--seed",
      paramLabel = "N",
      description =
          "Seed of every random decision; the same seed and traffic give the same"
              + " decisions (default: chosen at random and printed).")
  Long seed;

  @Option(
      names = "--duration",
      paramLabel = "TIME",
      converter = Converters.Durations.class,
      description = "Stop after this long, e.g. 10s, 2m.")
  Duration duration;

  @Option(
      names = "--limit",
      paramLabel = "N",
      defaultValue = "4096",
      converter = Converters.Count.class,
      description =
          "Packets held at most (default: ${DEFAULT-VALUE}); beyond it they are"
              + " dropped and counted as overflowed.")
  int limit;

  @Option(
      names = "--max-packet",
      paramLabel = "BYTES",
      defaultValue = "2048",
      converter = Converters.Count.class,
      description =
          "The largest packet that can be held (default: ${DEFAULT-VALUE}); larger"
              + " ones pass at once and are counted as oversize.")
  int maxPacket;

  @Option(
      names = "--generate",
      paramLabel = "N",
      converter = Converters.Count.class,
      description =
          "Open the backend's test bed and send N datagrams (UDP, or pings for an icmp"
              + " rule) from its peer to the host; impair ends when they are handled.")
  Integer generate;

  @Mixin HostOptionsMixin hostOptions;

  private volatile boolean stopping;
  private volatile Impairer running;
  private volatile boolean generatorDone = true;
  private volatile IOException generatorError;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    List<DivertRule> parsed = divert.parseRules();
    Impairment impairment = impairment();
    long theSeed = seed != null ? seed : new java.security.SecureRandom().nextLong();
    if (divert.netns != null && generate != null) {
      throw CliException.usage("--netns and --generate do not go together");
    }
    DivertProvider provider = divert.provider();
    HostOptions.Builder options = divert.hostOptions(hostOptions);
    // Held packets count against the socket's queue and must leave within the hold timeout.
    options.holdTimeout(Impairer.requiredHoldTimeout(List.of(impairment)));
    if (hostOptions.queueLength == null) {
      options.queueLength(Math.min(65535, limit + 1024));
    }
    ShutdownHook hook =
        new ShutdownHook("divert-impair-shutdown", this::stop, Duration.ofSeconds(10));
    hook.install();
    try {
      return impair(provider, options, impairment, parsed, theSeed, out, err);
    } finally {
      hook.release(); // after the summary, which the hook waits for
    }
  }

  private int impair(
      DivertProvider provider,
      HostOptions.Builder options,
      Impairment impairment,
      List<DivertRule> parsed,
      long theSeed,
      PrintWriter out,
      PrintWriter err)
      throws Exception {
    TestBed bed = null;
    DivertHost host = null;
    ImpairStats last;
    long flushed;
    try {
      if (generate != null) {
        bed = provider.testBed(TestBedOptions.builder().host(options.build()).build());
        host = bed.host();
      } else {
        host = provider.open(options.build());
      }
      if (stopping) {
        return ExitCodes.INTERRUPTED;
      }
      ImpairerBuilder b =
          Impairer.builder(host, divert.port)
              .seed(theSeed)
              .capacity(limit)
              .maxPacket(Math.min(maxPacket, 65535))
              .batchSize(divert.batchSize);
      for (DivertRule r : parsed) {
        b.rule(r, impairment);
      }
      try (Impairer imp = b.start()) {
        running = imp;
        err.println(
            "impair: "
                + DivertOptionsMixin.ruleTexts(parsed)
                + " on "
                + provider.name()
                + " host "
                + host.name()
                + ": "
                + impairment
                + "; seed "
                + theSeed
                + "; Ctrl-C to stop");
        err.flush();
        if (bed != null) {
          startGenerator(bed, parsed);
        }
        loop(imp);
        flushed = imp.stats().held();
        imp.close(); // writes back what is held, removes the rules
        last = imp.stats();
      }
    } finally {
      stopping = true;
      if (bed != null) {
        bed.close();
      } else if (host != null) {
        try {
          host.close();
        } catch (Exception e) {
          // On the way out; the next open on the backend cleans up (S51).
        }
      }
    }
    summary(out, last, flushed);
    if (generatorError != null) {
      throw CliException.peerCouldNotSend(generatorError);
    }
    return ExitCodes.OK;
  }

  private void loop(Impairer imp) throws Exception {
    long start = System.nanoTime();
    long end = duration == null ? Long.MAX_VALUE : start + duration.toNanos();
    long lastProgress = start;
    long seen = 0;
    while (!stopping && System.nanoTime() - end < 0) {
      imp.step(POLL);
      if (generate != null) {
        ImpairStats s = imp.stats();
        long now = System.nanoTime();
        if (s.received() != seen) {
          seen = s.received();
          lastProgress = now;
        }
        if (generatorDone
            && s.held() == 0
            && (s.received() >= generate || now - lastProgress > IDLE_END_NANOS)) {
          break;
        }
      }
    }
  }

  private Impairment impairment() throws CliException {
    Impairment.Builder m =
        Impairment.builder().delay(delay).jitter(jitter).burst(burst).rateQueue(rateQueue);
    if (loss != null && lossGe != null) {
      throw CliException.usage("--loss and --loss-ge do not go together: choose one loss model");
    }
    if (loss != null) {
      m.loss(loss);
    }
    if (lossGe != null) {
      m.gilbertElliott(lossGe[0], lossGe[1], lossGe[2], lossGe[3]);
    }
    if (duplicate != null) {
      m.duplicate(duplicate);
    }
    if (reorder != null) {
      m.reorder(reorder);
    }
    if (rate != null) {
      m.rate(rate);
    }
    if (corrupt != null) {
      m.corrupt(corrupt, !noFixChecksum);
    }
    try {
      return m.build();
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
  }

  private static void summary(PrintWriter out, ImpairStats s, long flushed) {
    out.println(
        String.format(
            Locale.ROOT,
            "received %d, sent %d, lost %d (%.2f%%), duplicated %d, reordered %d, corrupted %d,"
                + " delayed %d",
            s.received(),
            s.sent(),
            s.lost(),
            s.received() == 0 ? 0.0 : 100.0 * s.lost() / s.received(),
            s.duplicated(),
            s.reordered(),
            s.corrupted(),
            s.delayed()));
    out.println(
        "rate-dropped "
            + s.rateDropped()
            + ", overflowed "
            + s.overflowed()
            + ", oversize "
            + s.oversize()
            + ", send errors "
            + s.sendErrors()
            + ", written back early on exit "
            + flushed);
    out.flush();
  }

  private void startGenerator(TestBed bed, List<DivertRule> parsed) throws CliException {
    DivertRule first = parsed.get(0);
    if (first.protocol() == DivertRule.TCP) {
      throw CliException.usage("--generate sends UDP datagrams or pings: use a udp or icmp rule");
    }
    generatorDone = false;
    PeerTraffic.start(
        bed, first, generate, () -> stopping, e -> generatorError = e, () -> generatorDone = true);
  }

  /** Ends the loop, as Ctrl-C and SIGTERM do (from the shutdown hook). Any thread. */
  private void stop() {
    stopping = true;
    Impairer imp = running;
    if (imp != null) {
      imp.stop();
    }
  }
}
