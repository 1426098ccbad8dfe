package org.divert4j.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Arrays;
import java.util.List;

/** Runs the command line in-process and keeps what it printed. */
final class Cli {
  private Cli() {}

  /**
   * @param status the exit status
   * @param out what went to stdout
   * @param err what went to stderr
   */
  record Result(int status, String out, String err) {
    List<String> outLines() {
      return out.isEmpty() ? List.of() : Arrays.asList(out.split("\n", -1)).subList(0, lines(out));
    }

    List<String> errLines() {
      return err.isEmpty() ? List.of() : Arrays.asList(err.split("\n", -1)).subList(0, lines(err));
    }

    private static int lines(String s) {
      return s.endsWith("\n") ? s.split("\n", -1).length - 1 : s.split("\n", -1).length;
    }

    @Override
    public String toString() {
      return "exit " + status + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  static Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    return new Result(
        status, out.toString().replace("\r\n", "\n"), err.toString().replace("\r\n", "\n"));
  }
}
