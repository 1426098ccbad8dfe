package org.divert4j;

/** The socket or host was closed, before the call or while it was blocked (SEMANTICS.md S51). */
public final class DivertClosedException extends DivertException {
  private static final long serialVersionUID = 1L;

  /**
   * @param what what is closed, e.g. "divert socket on port 1234"
   */
  public DivertClosedException(String what) {
    super(what + " is closed");
  }
}
