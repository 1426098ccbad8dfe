/**
 * divert4j: divert sockets for the JVM. The API ({@link org.divert4j}), the IPv4 packet toolkit
 * ({@link org.divert4j.packet}), the provider SPI ({@link org.divert4j.spi}), the shared user-space
 * stack for backends without a kernel firewall ({@link org.divert4j.stack}), and test beds ({@link
 * org.divert4j.testbed}, with Linux namespace plumbing in {@link org.divert4j.testbed.linux}). No
 * third-party dependency.
 */
module org.divert4j {
  exports org.divert4j;
  exports org.divert4j.packet;
  exports org.divert4j.spi;
  exports org.divert4j.stack;
  exports org.divert4j.testbed;
  exports org.divert4j.testbed.linux;

  uses org.divert4j.spi.DivertProvider;
}
