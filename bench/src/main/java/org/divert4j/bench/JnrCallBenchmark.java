package org.divert4j.bench;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import jnr.ffi.LibraryLoader;
import jnr.ffi.LibraryOption;
import jnr.ffi.Pointer;
import jnr.ffi.annotations.IgnoreError;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The cost of one native call through JNR-FFI, the kernel backend's binding: {@code send(-1, buf,
 * 64, 0)}, a system call that fails at once with EBADF, so the figure is the binding's overhead
 * plus the kernel's shortest path (docs/performance.md quotes it against C). Bound as the backend
 * binds libc ({@code LibraryOption.SaveError}, pointers as {@code long} addresses of a direct
 * buffer); {@code sendIgnoreError} is the same call without saving errno. The FFM counterpart,
 * compiled on JDK 22+ only, is {@code ffm.FfmCallBenchmark}; run both in one JMH run to compare.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class JnrCallBenchmark {
  /** EBADF, from asm-generic/errno-base.h. */
  static final int EBADF = 9;

  /** The libc function, declared as {@code org.divert4j.rawsocket.internal.LibC} declares it. */
  public interface LibC {
    long send(int fd, long buf, long len, int flags);
  }

  /** The same without errno saving. */
  public interface LibCNoErrno {
    @IgnoreError
    long send(int fd, long buf, long len, int flags);
  }

  private LibC c;
  private LibCNoErrno noErrno;
  private jnr.ffi.Runtime rt;
  private long buf;

  @Setup
  public void setup() {
    c = LibraryLoader.create(LibC.class).option(LibraryOption.SaveError, Boolean.TRUE).load("c");
    noErrno = LibraryLoader.create(LibCNoErrno.class).load("c");
    rt = jnr.ffi.Runtime.getRuntime(c);
    ByteBuffer b = ByteBuffer.allocateDirect(64);
    buf = Pointer.wrap(rt, b).address();
    long r = c.send(-1, buf, 64, 0);
    if (r != -1 || rt.getLastError() != EBADF) {
      throw new IllegalStateException("send(-1) returned " + r + ", errno " + rt.getLastError());
    }
  }

  /** The call as the backend makes it, errno saved. */
  @Benchmark
  public long send() {
    return c.send(-1, buf, 64, 0);
  }

  /** The call and the errno read the backend does when a call fails. */
  @Benchmark
  public int sendAndErrno() {
    return (int) c.send(-1, buf, 64, 0) ^ rt.getLastError();
  }

  /** Without errno saving. */
  @Benchmark
  public long sendIgnoreError() {
    return noErrno.send(-1, buf, 64, 0);
  }
}
