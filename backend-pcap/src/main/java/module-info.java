/**
 * The pcap backend, provider {@code pcap}: diverting inline between two interfaces, and replaying
 * captures, through pcap4j and libpcap, on the Linux floor ({@code org.divert4j.linux}) for system
 * calls. Its internal package is opened to JNA, which reaches into it reflectively; its test bed
 * ({@code org.divert4j.pcap.testbed}) builds on the floor's namespace test-bed plumbing.
 */
module org.divert4j.pcap {
  requires transitive org.divert4j;
  requires org.divert4j.linux;
  requires org.pcap4j.core;
  requires com.sun.jna;
  requires java.sql; // pcap4j's API hands out java.sql.Timestamp

  exports org.divert4j.pcap;

  opens org.divert4j.pcap.internal to
      com.sun.jna;

  provides org.divert4j.spi.DivertProvider with
      org.divert4j.pcap.PcapProvider;
}
