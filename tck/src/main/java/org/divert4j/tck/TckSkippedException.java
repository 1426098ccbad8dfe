package org.divert4j.tck;

import org.opentest4j.TestAbortedException;

/**
 * Stops a test that cannot run here: the backend turned out to be unavailable only when its test
 * bed was opened (for example the kernel test bed needs root). JUnit shows it as aborted; the TCK
 * report counts it as skipped, with this message as the reason.
 */
public final class TckSkippedException extends TestAbortedException {
  private static final long serialVersionUID = 1L;

  /**
   * @param reason why the test cannot run, naming the backend
   * @param cause the underlying error, or null
   */
  public TckSkippedException(String reason, Throwable cause) {
    super(reason, cause);
  }
}
