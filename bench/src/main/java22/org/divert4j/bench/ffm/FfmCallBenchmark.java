package org.divert4j.bench.ffm;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The counterpart of {@code JnrCallBenchmark} through the Java FFM API ({@code java.lang.foreign},
 * final in JDK 22): the same {@code send(-1, buf, 64, 0)}, failing at once with EBADF. Compiled
 * with {@code --release 22} only when the build runs on JDK 22 or newer (profile {@code ffm} of
 * bench/pom.xml); the method handles are static finals so that the JIT sees constants, as a real
 * binding would hold them.
 *
 * <ul>
 *   <li>{@code send}: a plain downcall, errno not kept (like JNR's {@code @IgnoreError});
 *   <li>{@code sendCaptureErrno}: errno captured into a segment ({@code
 *       Linker.Option.captureCallState}), what a binding that reports errno must do, and what JNR's
 *       {@code SaveError} does;
 *   <li>{@code sendCritical}: {@code Linker.Option.critical(false)}, the no-thread-state-transition
 *       call for short functions that never block (not usable for a blocking receive).
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class FfmCallBenchmark {
  private static final int EBADF = 9;

  private static final FunctionDescriptor SEND =
      FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
  private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO = CALL_STATE.varHandle(PathElement.groupElement("errno"));

  private static final MethodHandle PLAIN;
  private static final MethodHandle CAPTURE_ERRNO;
  private static final MethodHandle CRITICAL;

  static {
    Linker linker = Linker.nativeLinker();
    MemorySegment send = linker.defaultLookup().find("send").orElseThrow();
    PLAIN = linker.downcallHandle(send, SEND);
    CAPTURE_ERRNO = linker.downcallHandle(send, SEND, Linker.Option.captureCallState("errno"));
    CRITICAL = linker.downcallHandle(send, SEND, Linker.Option.critical(false));
  }

  private MemorySegment buf;
  private MemorySegment state;

  @Setup
  public void setup() throws Throwable {
    Arena arena = Arena.ofAuto();
    buf = arena.allocate(64);
    state = arena.allocate(CALL_STATE);
    long r = (long) CAPTURE_ERRNO.invokeExact(state, -1, buf, 64L, 0);
    int errno = (int) ERRNO.get(state, 0L);
    if (r != -1 || errno != EBADF) {
      throw new IllegalStateException("send(-1) returned " + r + ", errno " + errno);
    }
  }

  @Benchmark
  public long send() throws Throwable {
    return (long) PLAIN.invokeExact(-1, buf, 64L, 0);
  }

  /** The call and the errno read, as {@code JnrCallBenchmark.sendAndErrno}. */
  @Benchmark
  public int sendCaptureErrno() throws Throwable {
    return (int) (long) CAPTURE_ERRNO.invokeExact(state, -1, buf, 64L, 0)
        ^ (int) ERRNO.get(state, 0L);
  }

  @Benchmark
  public long sendCritical() throws Throwable {
    return (long) CRITICAL.invokeExact(-1, buf, 64L, 0);
  }
}
