package org.divert4j.rawsocket.internal;

import org.divert4j.tck.linux.NamespaceSyscallsContract;
import org.divert4j.testbed.linux.NamespaceSyscalls;

/** The JNR-FFI implementation of the namespace test bed's system calls. */
class NativeSyscallsTest extends NamespaceSyscallsContract {
  @Override
  protected NamespaceSyscalls syscalls() {
    return Native.SYSCALLS;
  }
}
