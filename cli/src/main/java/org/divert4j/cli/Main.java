package org.divert4j.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.Charset;
import java.util.List;
import java.util.Map;
import org.divert4j.BackendUnavailableException;
import org.divert4j.DivertException;
import org.divert4j.PermissionException;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The {@code divert} command line: parses the arguments, runs a subcommand and maps every failure
 * to one line on stderr and an exit status ({@link ExitCodes}). Stack traces only with {@code
 * --debug}.
 */
public final class Main {
  private Main() {}

  /**
   * Runs the command line and exits the JVM with its status.
   *
   * @param args the arguments
   */
  public static void main(String[] args) {
    Charset cs = Charset.defaultCharset();
    PrintWriter out = new PrintWriter(new java.io.OutputStreamWriter(System.out, cs), true);
    PrintWriter err = new PrintWriter(new java.io.OutputStreamWriter(System.err, cs), true);
    int status = run(args, out, err);
    out.flush();
    err.flush();
    System.exit(status);
  }

  /**
   * Runs the command line without exiting: what tests call.
   *
   * @param args the arguments
   * @param out standard output
   * @param err standard error
   * @return the exit status
   */
  public static int run(String[] args, PrintWriter out, PrintWriter err) {
    int status = commandLine(out, err, debugRequested(args)).execute(args);
    out.flush();
    err.flush();
    return status;
  }

  /**
   * The command line with its error handling, not yet run.
   *
   * @param out standard output
   * @param err standard error
   * @param debug true to print stack traces with errors
   * @return the command line
   */
  static CommandLine commandLine(PrintWriter out, PrintWriter err, boolean debug) {
    CommandLine cl = new CommandLine(new DivertCommand());
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setUsageHelpAutoWidth(false);
    cl.setUsageHelpWidth(100);
    cl.setOut(out);
    cl.setErr(err);
    cl.setParameterExceptionHandler((ex, a) -> usageError(ex, err, debug));
    cl.setExecutionExceptionHandler(
        (ex, cmd, parsed) -> executionError(ex, cmd.getCommandSpec().qualifiedName(), err, debug));
    return cl;
  }

  /** {@code --debug} anywhere before a {@code --} end-of-options marker. */
  static boolean debugRequested(String[] args) {
    for (String a : args) {
      if (a.equals("--")) {
        return false;
      }
      if (a.equals("--debug")) {
        return true;
      }
    }
    return false;
  }

  private static int usageError(ParameterException ex, PrintWriter err, boolean debug) {
    String name = ex.getCommandLine().getCommandSpec().qualifiedName();
    StringBuilder line = new StringBuilder(name).append(": ").append(lowerFirst(ex.getMessage()));
    if (ex instanceof UnmatchedArgumentException u) {
      List<String> unmatched = u.getUnmatched();
      Map<String, CommandLine> subcommands = ex.getCommandLine().getSubcommands();
      String word = unmatched.isEmpty() ? "" : unmatched.get(0);
      if (!subcommands.isEmpty() && !word.startsWith("-") && !word.isEmpty()) {
        line = new StringBuilder(name).append(": unknown command '").append(word).append('\'');
        String near = nearest(word, subcommands.keySet());
        if (near != null) {
          line.append("; did you mean '").append(near).append("'?");
        }
      } else if (!u.getSuggestions().isEmpty()) {
        line.append("; did you mean '").append(u.getSuggestions().get(0)).append("'?");
      }
    }
    line.append(" (see '").append(name).append(" --help')");
    err.println(line);
    if (debug) {
      ex.printStackTrace(err);
    }
    err.flush();
    return ExitCodes.USAGE;
  }

  private static int executionError(Exception ex, String name, PrintWriter err, boolean debug) {
    int status;
    String message;
    if (ex instanceof CliException c) {
      status = c.exitCode();
      message = c.getMessage();
    } else if (ex instanceof PermissionException) {
      status = ExitCodes.UNAVAILABLE;
      message = ex.getMessage() + "; run it as root (e.g. with sudo) or grant those capabilities";
    } else if (ex instanceof BackendUnavailableException) {
      status = ExitCodes.UNAVAILABLE;
      message = firstLine(ex.getMessage()) + " (see 'divert backends')";
    } else if (ex instanceof DivertException) {
      status = ExitCodes.FAILURE;
      message = ex.getMessage();
    } else if (ex instanceof java.io.IOException) {
      status = ExitCodes.FAILURE;
      message = "I/O error: " + ex.getMessage();
    } else if (ex instanceof IllegalArgumentException) {
      status = ExitCodes.USAGE;
      message = ex.getMessage() + " (see '" + name + " --help')";
    } else {
      status = ExitCodes.FAILURE;
      message = "unexpected error: " + ex + " (run again with --debug for details)";
    }
    err.println(name + ": " + oneLine(message));
    if (debug) {
      StringWriter sw = new StringWriter();
      ex.printStackTrace(new PrintWriter(sw));
      err.print(sw);
    }
    err.flush();
    return status;
  }

  /** The closest word by edit distance, if it is close (at most 2 edits), else null. */
  static String nearest(String word, Iterable<String> candidates) {
    String best = null;
    int bestDistance = 3;
    for (String c : candidates) {
      int d = distance(word, c);
      if (d < bestDistance) {
        best = c;
        bestDistance = d;
      }
    }
    return best;
  }

  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int subst = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(subst, Math.min(prev[j] + 1, cur[j - 1] + 1));
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  static String oneLine(String s) {
    return s == null ? "" : s.replace("\r", "").replace("\n", "; ");
  }

  private static String lowerFirst(String s) {
    if (s == null || s.isEmpty()) {
      return "";
    }
    // picocli capitalises its messages; ours continue after "divert dump: ".
    if (s.length() > 1 && Character.isUpperCase(s.charAt(1))) {
      return s; // an acronym, e.g. "MTU ..."
    }
    return Character.toLowerCase(s.charAt(0)) + s.substring(1);
  }
}
