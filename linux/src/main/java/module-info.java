/**
 * The Linux floor under the native backends ({@code rawsocket}, {@code pcap}) and their namespace
 * test beds: one JNR-FFI binding of the shared system calls ({@link org.divert4j.linux.Native}),
 * one errno exception and its mapping, the namespace thread, the shell, iptables and /proc readers
 * ({@link org.divert4j.linux}), and the namespace test-bed plumbing ({@link
 * org.divert4j.linux.testbed}). A simulation-only application never has this module on its path.
 * The binding's package is opened to JNR-FFI, which generates the implementation of {@link
 * org.divert4j.linux.LibC} at run time.
 */
module org.divert4j.linux {
  requires transitive org.divert4j;
  requires org.jnrproject.ffi;

  exports org.divert4j.linux;
  exports org.divert4j.linux.testbed;

  opens org.divert4j.linux to
      org.jnrproject.ffi;
}
