/**
 * divert4j: divert sockets for the JVM. The API ({@link org.divert4j}), the IPv4 packet toolkit
 * ({@link org.divert4j.packet}), the provider SPI ({@link org.divert4j.spi}), the shared user-space
 * stack for backends without a kernel firewall ({@link org.divert4j.stack}), and the test-bed SPI
 * ({@link org.divert4j.testbed}). No third-party dependency and no platform code: the Linux
 * plumbing of the native backends lives in the {@code org.divert4j.linux} module.
 */
module org.divert4j {
  requires java.management;

  exports org.divert4j;
  exports org.divert4j.filter;
  exports org.divert4j.management;
  exports org.divert4j.packet;
  exports org.divert4j.spi;
  exports org.divert4j.stack;
  exports org.divert4j.testbed;

  uses org.divert4j.spi.DivertProvider;
}
