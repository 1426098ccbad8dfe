package org.divert4j.filter;

/**
 * A filter expression that cannot be used (SEMANTICS.md S66): it names the 1-based character
 * position of the fault and what was expected there, e.g. {@code at 17: expected a field or a
 * number, found ')'}.
 */
public final class FilterSyntaxException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  /** The 1-based character position of the fault. */
  private final int position;

  FilterSyntaxException(int position, String problem) {
    super("at " + position + ": " + problem);
    this.position = position;
  }

  /**
   * @return the 1-based character position of the fault in the filter text
   */
  public int position() {
    return position;
  }
}
