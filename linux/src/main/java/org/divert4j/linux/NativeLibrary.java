package org.divert4j.linux;

import java.nio.ByteOrder;
import jnr.ffi.LibraryLoader;
import jnr.ffi.LibraryOption;

/**
 * The C library as JNR-FFI loads it, once, when {@link Native} is first used (Netty's {@code Epoll}
 * availability pattern): the {@link LibC} binding and its runtime, or why loading failed (missing
 * jar, unsupported platform: divert4j-linux runs on 64-bit little-endian Linux only). It never
 * retries. {@link Native} is its only user and hands the binding to nobody else. Thread-safe.
 */
final class NativeLibrary {
  private static final LibC C;
  private static final jnr.ffi.Runtime RT;
  private static final Throwable LOAD_ERROR;

  static {
    LibC c = null;
    jnr.ffi.Runtime rt = null;
    Throwable err = null;
    try {
      c =
          LibraryLoader.create(LibC.class)
              .option(LibraryOption.SaveError, Boolean.TRUE)
              .failImmediately()
              .load("c");
      rt = jnr.ffi.Runtime.getRuntime(c);
      if (rt.addressSize() != 8 || rt.byteOrder() != ByteOrder.LITTLE_ENDIAN) {
        throw new UnsatisfiedLinkError("divert4j-linux supports 64-bit little-endian Linux only");
      }
    } catch (Throwable t) {
      err = t;
      c = null;
      rt = null;
    }
    C = c;
    RT = rt;
    LOAD_ERROR = err;
  }

  private NativeLibrary() {}

  /**
   * @return why JNR-FFI or the C library could not be loaded, or null if they were
   */
  static Throwable loadError() {
    return LOAD_ERROR;
  }

  /**
   * @return the binding
   * @throws UnsatisfiedLinkError naming the load error, if loading failed
   */
  static LibC libc() {
    if (C == null) {
      UnsatisfiedLinkError e = new UnsatisfiedLinkError("JNR-FFI is not usable: " + LOAD_ERROR);
      e.initCause(LOAD_ERROR);
      throw e;
    }
    return C;
  }

  /**
   * @return the binding's runtime (errno, pointers), or null if loading failed
   */
  static jnr.ffi.Runtime runtime() {
    return RT;
  }
}
