package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;

import java.io.IOException;
import java.net.Inet4Address;
import java.time.Duration;
import org.divert4j.DivertException;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.Ipv4;
import org.divert4j.NoListenerPolicy;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The base of the verification classes: registers {@link TckExtension} and holds what the tests
 * share. Every test method is named after the rule it checks, carries {@link SpecRule}, takes a
 * {@link TckContext}, and runs on fresh test beds that it closes itself.
 *
 * <p>Conventions: divert ports {@link #PORT}, {@link #PORT2}, {@link #PORT3}; UDP traffic goes from
 * port {@link #SRC_PORT} to {@link #UDP_PORT} (or {@link #UDP_PORT2} for traffic that must not
 * match a rule). Payload sizes are chosen so that a 4000-byte payload makes three fragments on a
 * 1500-byte link (1480 + 1480 + 1048 bytes of IP payload).
 */
@ExtendWith(TckExtension.class)
public abstract class TckVerification {
  static final int PORT = 4100;
  static final int PORT2 = 4200;
  static final int PORT3 = 4300;
  static final int UDP_PORT = 7000;
  static final int UDP_PORT2 = 7002;
  static final int SRC_PORT = 7001;

  /** A payload that fragments into three on a 1500-byte link. */
  static final int LARGE = 4000;

  /** TEST-NET-1: never an address of a test bed host. */
  static final Inet4Address NOT_LOCAL = Ipv4.parse("192.0.2.77");

  /** TEST-NET-3: no route in a test bed (its host has only connected routes). */
  static final Inet4Address UNROUTABLE = Ipv4.parse("203.0.113.9");

  /** For subclasses. */
  protected TckVerification() {}

  static DivertRule rule(String text) {
    return DivertRule.parse(text);
  }

  /**
   * Adds the rule {@code "<match> -j DIVERT <port>"} for each match, in order, then binds the port:
   * the setup of most tests, with the rules' port and the bound port the same by construction.
   */
  static DivertSocket divert(TestBed bed, int port, String... matches) throws DivertException {
    for (String match : matches) {
      bed.host().addRule(rule(match + " -j DIVERT " + port));
    }
    return bed.host().bind(port);
  }

  /**
   * The peer sends {@code count} datagrams of {@code size} bytes (payload patterns 0, 1, ...) from
   * {@link #SRC_PORT} to the host's {@link #UDP_PORT}, as fast as it can.
   */
  static void peerSends(TestBed bed, int count, int size) throws IOException {
    for (int i = 0; i < count; i++) {
      bed.peer().sendUdp(bed.hostNode().address(), SRC_PORT, UDP_PORT, pattern(size, i));
    }
  }

  /**
   * As {@link #peerSends(TestBed, int, int)}, to the host's address of the probe's family (for the
   * verifications that run once per family).
   */
  static void peerSends(Probe p, int count, int size) throws IOException {
    for (int i = 0; i < count; i++) {
      p.bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(size, i));
    }
  }

  static TestBedOptions.Builder options() {
    return TestBedOptions.builder();
  }

  static TestBedOptions hostOptions(HostOptions host) {
    return TestBedOptions.builder().host(host).build();
  }

  static HostOptions.Builder host() {
    return HostOptions.builder();
  }

  static TestBedOptions passThrough() {
    return hostOptions(host().noListener(NoListenerPolicy.PASS_THROUGH).build());
  }

  static TestBedOptions defragment() {
    return hostOptions(host().fragments(FragmentMode.ALWAYS_DEFRAGMENT).build());
  }

  static Probe probe(TestBed bed, TckContext tck) {
    return new Probe(bed, tck.timeout(), tck.family());
  }

  static Duration seconds(long s) {
    return Duration.ofSeconds(s);
  }
}
