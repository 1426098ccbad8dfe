package org.divert4j.filter;

import java.nio.ByteBuffer;

/**
 * A {@link Program} turned into bytecode by {@link FilterCompiler}: one method whose branches are
 * the program's jumps, so the JIT compiles each filter into straight code. Gives the same verdict
 * as {@code Program.matches} for every packet (FilterCompilerTest).
 */
interface Compiled {
  /**
   * @param p the program it was compiled from (tests it does not inline call back into it)
   * @param b the packet
   * @param l its layout, already read as the program needs
   * @param c its context
   * @return the verdict
   */
  boolean matches(Program p, ByteBuffer b, Layout l, FilterContext c);
}
