package org.divert4j.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.Netns;

/** What the benchmark programs share: the C tools in namespaces, medians and the machine's load. */
public final class BenchTools {
  private BenchTools() {}

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
