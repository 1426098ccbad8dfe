package org.divert4j.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.rawsocket.RawSocketProvider;

/** What the benchmark programs share: the C tools in namespaces, medians and the machine's load. */
public final class BenchTools {
  private BenchTools() {}

  /**
   * Reads a benchmark program's {@code --name value} arguments, and ends the JVM with status 1 and
   * one line on stderr when it does not run as root.
   *
   * @param args the arguments
   * @param program the program's name, for the message
   * @param why what it needs root for
   * @return the options by name, in order
   * @throws IllegalArgumentException for an argument that is not {@code --name value}
   */
  public static Map<String, String> rootOptions(String[] args, String program, String why) {
    Map<String, String> o = new LinkedHashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!args[i].startsWith("--")) {
        throw new IllegalArgumentException("unexpected " + args[i]);
      }
      o.put(args[i].substring(2), args[i + 1]);
    }
    if (!Shell.isRoot()) {
      System.err.println(program + " needs root (" + why + ")");
      System.exit(1);
    }
    return o;
  }

  /**
   * Starts one of the C programs of {@code bench/c} in a namespace; its stderr goes to ours.
   *
   * @param cdir where {@code bench/build-c.sh} put the programs
   * @param ns the namespace
   * @param cmd the program's name and its arguments
   * @return the running process
   * @throws IOException if it cannot be started
   */
  public static Process start(Path cdir, Netns ns, String... cmd) throws IOException {
    List<String> c = new ArrayList<>();
    c.add(cdir.resolve(cmd[0]).toString());
    c.addAll(Arrays.asList(cmd).subList(1, cmd.length));
    return new ProcessBuilder(Shell.inNetns(ns.path().toString(), c))
        .redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
  }

  private static final java.util.regex.Pattern IPERF3_RECEIVED =
      java.util.regex.Pattern.compile(
          "\"sum_received\"\\s*:\\s*\\{[^}]*?\"bits_per_second\"\\s*:\\s*([0-9.eE+]+)");

  /**
   * Starts {@code iperf3 -s -1} (one test, then it exits) in a namespace, its output discarded.
   *
   * @param ns the namespace
   * @param port the port it listens on
   * @return the server process; the caller stops it
   * @throws IOException if it cannot be started
   */
  public static Process iperf3Server(Netns ns, int port) throws IOException {
    return new ProcessBuilder(
            Shell.inNetns(
                ns.path().toString(), List.of("iperf3", "-s", "-1", "-p", Integer.toString(port))))
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(ProcessBuilder.Redirect.DISCARD)
        .start();
  }

  /**
   * The whole seconds to pass to {@code iperf3 -t}: at least 1. iperf3 reads {@code -t} with {@code
   * atoi} (src/iperf_api.c), so "0.5" became 0, and {@code -t 0} means no time limit (esnet/iperf
   * issue 1130): a run with {@code --seconds 0.5} never ended and its report was never read.
   */
  static long iperf3Seconds(double seconds) {
    return Math.max(1, Math.round(seconds));
  }

  /**
   * Runs one {@code iperf3 -c} TCP stream from a namespace, blocking until it ends (at most 30 s
   * after its time), and reads the receiver's figure from its JSON report.
   *
   * @param ns the client's namespace
   * @param address the server's address
   * @param port the server's port
   * @param seconds the stream's length, rounded to whole seconds, at least 1 ({@link
   *     #iperf3Seconds})
   * @param what the measurement, for the error
   * @return the bits per second the receiver counted
   * @throws IOException if iperf3 cannot start or its report has no receiver figure
   * @throws InterruptedException if interrupted while waiting
   */
  public static double iperf3Client(Netns ns, String address, int port, double seconds, String what)
      throws IOException, InterruptedException {
    Process client =
        new ProcessBuilder(
                Shell.inNetns(
                    ns.path().toString(),
                    List.of(
                        "iperf3",
                        "-c",
                        address,
                        "-p",
                        Integer.toString(port),
                        "-t",
                        Long.toString(iperf3Seconds(seconds)),
                        "-J")))
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    try {
      String json = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      client.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
      java.util.regex.Matcher m = IPERF3_RECEIVED.matcher(json);
      if (!m.find()) {
        throw new IOException(
            "iperf3 gave no receiver figure in " + what + ": " + json.lines().limit(5).toList());
      }
      return Double.parseDouble(m.group(1));
    } finally {
      client.destroyForcibly();
    }
  }

  /**
   * Runs {@code udp_sink} in one namespace and {@code udp_blast} senders in another (bench/c), and
   * returns the datagrams per second the sink counted in its window.
   *
   * @param cdir where the C programs are
   * @param sinkNs the sink's namespace
   * @param sinkArgs the sink's arguments (family flag, port, warm-up, seconds)
   * @param senderNs the senders' namespace
   * @param senders each sender's arguments (family flag, address, port, payload, seconds, source)
   * @return datagrams per second; 0 if the sink counted no time
   * @throws IOException if a program cannot start, or the sink does not get ready
   * @throws InterruptedException if interrupted while waiting for them
   */
  public static double udpRate(
      Path cdir, Netns sinkNs, List<String> sinkArgs, Netns senderNs, List<List<String>> senders)
      throws IOException, InterruptedException {
    Process sink = start(cdir, sinkNs, command("udp_sink", sinkArgs));
    if (!line(sink).equals("ready")) {
      throw new IOException("udp_sink did not start");
    }
    List<Process> blasts = new ArrayList<>();
    for (List<String> a : senders) {
      blasts.add(start(cdir, senderNs, command("udp_blast", a)));
    }
    String result = line(sink);
    sink.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
    for (Process b : blasts) {
      b.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
    }
    String[] f = result.split("\\s+");
    if (f.length < 2 || Double.parseDouble(f[1]) == 0) {
      return 0;
    }
    return Long.parseLong(f[0]) / Double.parseDouble(f[1]);
  }

  private static String[] command(String program, List<String> args) {
    List<String> c = new ArrayList<>();
    c.add(program);
    c.addAll(args);
    return c.toArray(new String[0]);
  }

  /**
   * Reads the next line a process prints, blocking until it does or ends.
   *
   * @param p the process
   * @return the line, trimmed; empty if the process ended without one
   * @throws IOException if its output cannot be read
   */
  public static String line(Process p) throws IOException {
    BufferedReader r =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String l = r.readLine();
    return l == null ? "" : l.trim();
  }

  /**
   * @param l values
   * @param empty what an empty list gives
   * @return their median (the mean of the middle two for an even count)
   */
  public static double median(List<Double> l, double empty) {
    double[] a = l.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(a);
    return a.length == 0
        ? empty
        : a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
  }

  /**
   * The median of the run-by-run ratios {@code a[r] / b[r]}: runs of one round are measured
   * together, so their ratio cancels the load that both saw. Runs where {@code b[r]} is not above 0
   * are left out.
   *
   * @param a the numerators, one a run
   * @param b the denominators, one a run
   * @return the median ratio, 0 when there is none
   */
  public static double pairedRatio(List<Double> a, List<Double> b) {
    List<Double> r = new ArrayList<>();
    for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
      if (b.get(i) > 0) {
        r.add(a.get(i) / b.get(i));
      }
    }
    return median(r, 0);
  }

  /**
   * @param l values
   * @param format each value's format, e.g. {@code %.0f}
   * @return them, comma-separated
   */
  public static String list(List<Double> l, String format) {
    StringBuilder sb = new StringBuilder();
    for (double d : l) {
      sb.append(sb.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, format, d));
    }
    return sb.toString();
  }

  /**
   * Adds the NFQUEUE rule that a C libnetfilter_queue program serves in a kernel bench: {@code
   * iptables -t raw -A PREROUTING -p PROTOCOL --dport PORT [MATCHES] -m comment --comment
   * divert4j-bench -j NFQUEUE --queue-num QUEUE} in the host namespace. {@link #closeDivertPoint}
   * flushes it.
   *
   * @param host the namespace
   * @param iptables {@code iptables} or {@code ip6tables}
   * @param protocol {@code udp} or {@code tcp}
   * @param port the destination port to queue
   * @param queue the queue number
   * @param matches further match arguments, before the comment
   * @throws IOException if the rule cannot be added
   */
  public static void addNfqueueRule(
      Netns host, String iptables, String protocol, int port, int queue, String... matches)
      throws IOException {
    List<String> rule =
        new ArrayList<>(
            List.of(iptables, "-t", "raw", "-A", "PREROUTING", "-p", protocol, "--dport"));
    rule.add(Integer.toString(port));
    rule.addAll(List.of(matches));
    rule.addAll(List.of("-m", "comment", "--comment", "divert4j-bench", "-j", "NFQUEUE"));
    rule.addAll(List.of("--queue-num", Integer.toString(queue)));
    host.execChecked(rule.toArray(new String[0]));
  }

  /**
   * Takes down what served a kernel bench's divert point, in this order: joins the reflector
   * threads (the caller has told them to stop; up to 2 s each), closes the divert host (which
   * removes its rules), ends the C NFQUEUE program (up to 5 s), then flushes the host namespace's
   * {@code raw PREROUTING} chain with {@code iptables} (the NFQUEUE rule the C program served).
   *
   * @param reflectors the threads that served divert4j; null entries are skipped
   * @param dh the divert host, or null
   * @param nfq the C program, or null
   * @param host the namespace whose chain to flush, or null to flush none
   * @param iptables {@code iptables} or {@code ip6tables}
   * @return true if the C program ran and ended within 5 s, so that its exit value can be read
   * @throws Exception if a join is interrupted or the divert host fails to close
   */
  public static boolean closeDivertPoint(
      List<Thread> reflectors, DivertHost dh, Process nfq, Netns host, String iptables)
      throws Exception {
    for (Thread r : reflectors) {
      if (r != null) {
        r.join(2000);
      }
    }
    if (dh != null) {
      dh.close();
    }
    boolean ended = false;
    if (nfq != null) {
      nfq.destroy();
      ended = nfq.waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
    }
    if (host != null) {
      host.exec(iptables, "-t", "raw", "-F", "PREROUTING");
    }
    return ended;
  }

  /**
   * Opens the kernel backend's host that a bench diverts through: a queue of 8192 packets in the
   * namespace {@code ns}, receiving {@code batch} packets per system call.
   *
   * @param ns the namespace the host works in
   * @param batch packets per receive ({@code rawsocket.batch})
   * @param lanes queues, one reader each ({@code parallelism})
   * @param offload whether super-packets are queued whole ({@code segmentOffload})
   * @return the open host; the caller closes it
   * @throws DivertException if the backend cannot open it
   */
  public static DivertHost openKernelHost(Netns ns, int batch, int lanes, boolean offload)
      throws DivertException {
    return new RawSocketProvider()
        .open(
            HostOptions.builder()
                .queueLength(8192)
                .segmentOffload(offload)
                .parallelism(lanes)
                .property("rawsocket.netns", ns.name())
                .property("rawsocket.batch", Integer.toString(batch))
                .build());
  }

  /**
   * @return the machine's load averages as {@code /proc/loadavg} gives them, or "?"
   */
  public static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).trim();
    } catch (IOException e) {
      return "?";
    }
  }
}
