package org.divert4j.tck.clitest;

import org.opentest4j.TestAbortedException;

/** Stands for the TCK's "does not apply here" exception, which the cli recognises by name. */
public final class TckSkippedException extends TestAbortedException {
  private static final long serialVersionUID = 1L;

  public TckSkippedException(String message) {
    super(message);
  }
}
