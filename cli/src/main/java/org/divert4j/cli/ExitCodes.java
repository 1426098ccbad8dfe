package org.divert4j.cli;

/**
 * The exit statuses of {@code divert}, documented in {@code docs/cli.md} and in {@code divert
 * --help}. Scripts and CI rely on them, so they only ever gain new values.
 */
final class ExitCodes {
  /** The command did what it was asked. */
  static final int OK = 0;

  /**
   * The command ran and something failed: a required TCK rule, an unexpected demo result, a divert
   * or I/O error.
   */
  static final int FAILURE = 1;

  /** The command line is wrong: unknown option or backend, malformed rule, value out of range. */
  static final int USAGE = 2;

  /** The backend cannot be used here: unavailable, or privileges are missing (S46). */
  static final int UNAVAILABLE = 3;

  /** Ended by Ctrl-C (SIGINT), after printing what a normal end prints. The JVM's own status. */
  static final int INTERRUPTED = 130;

  private ExitCodes() {}
}
