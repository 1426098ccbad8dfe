/** The simulation backend, provider {@code sim}: simulated hosts and links in memory. */
module org.divert4j.sim {
  requires transitive org.divert4j;

  exports org.divert4j.sim;

  provides org.divert4j.spi.DivertProvider with
      org.divert4j.sim.SimProvider;
}
