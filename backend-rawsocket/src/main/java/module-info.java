/**
 * The Linux kernel backend, provider {@code rawsocket}: NFQUEUE over netlink and raw IP sockets, on
 * the Linux floor ({@code org.divert4j.linux}: the JNR-FFI binding, errno mapping, namespace
 * thread, iptables). Its test bed ({@code org.divert4j.rawsocket.testbed}) builds on the floor's
 * namespace test-bed plumbing.
 */
module org.divert4j.rawsocket {
  requires transitive org.divert4j;
  requires transitive org.divert4j.linux; // the exported internal package names its types

  exports org.divert4j.rawsocket;
  exports org.divert4j.rawsocket.internal;

  provides org.divert4j.spi.DivertProvider with
      org.divert4j.rawsocket.RawSocketProvider;
}
