/**
 * The Linux kernel backend, provider {@code rawsocket}: NFQUEUE over netlink and raw IP sockets,
 * through JNR-FFI. Its internal package is opened to JNR-FFI, which generates the native binding of
 * its libc interface at run time.
 */
module org.divert4j.rawsocket {
  requires transitive org.divert4j;
  requires org.jnrproject.ffi;

  exports org.divert4j.rawsocket;
  exports org.divert4j.rawsocket.internal;

  provides org.divert4j.spi.DivertProvider with
      org.divert4j.rawsocket.RawSocketProvider;
}
