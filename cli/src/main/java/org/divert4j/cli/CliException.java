package org.divert4j.cli;

import java.io.IOException;

/**
 * A failure the command line reports as one line with a chosen exit status: what failed, why, and
 * what to do. Thrown by commands; {@link Main} prints the message and returns {@link #exitCode()}.
 */
final class CliException extends Exception {
  private static final long serialVersionUID = 1L;

  private final int exitCode;

  /**
   * @param exitCode one of {@link ExitCodes}
   * @param message one line: what failed, why, and what to do
   */
  CliException(int exitCode, String message) {
    this(exitCode, message, null);
  }

  /**
   * @param exitCode one of {@link ExitCodes}
   * @param message one line: what failed, why, and what to do
   * @param cause the underlying failure, printed with {@code --debug}; may be null
   */
  CliException(int exitCode, String message, Throwable cause) {
    super(message, cause);
    this.exitCode = exitCode;
  }

  /**
   * @return the exit status for this failure
   */
  int exitCode() {
    return exitCode;
  }

  static CliException usage(String message) {
    return new CliException(ExitCodes.USAGE, message);
  }

  /**
   * @param e why the test bed's peer could not send what {@code --generate} asked for
   * @return the failure to report once the command has printed its summary
   */
  static CliException peerCouldNotSend(IOException e) {
    return new CliException(
        ExitCodes.FAILURE, "the test bed's peer could not send: " + e.getMessage(), e);
  }
}
