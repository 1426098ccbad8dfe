package org.divert4j.filter;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

/** Bytes allocated by the current thread, where the JVM can tell (HotSpot can). */
final class Alloc {
  private static final ThreadMXBean BEAN = ManagementFactory.getThreadMXBean();
  static final boolean SUPPORTED = supported();

  private Alloc() {}

  private static boolean supported() {
    try {
      return BEAN instanceof com.sun.management.ThreadMXBean t
          && t.isThreadAllocatedMemorySupported()
          && t.isThreadAllocatedMemoryEnabled();
    } catch (LinkageError e) {
      return false;
    }
  }

  static long bytes() {
    return SUPPORTED
        ? ((com.sun.management.ThreadMXBean) BEAN)
            .getThreadAllocatedBytes(Thread.currentThread().getId())
        : 0;
  }
}
