package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.divert4j.DivertHost;
import org.divert4j.HostOptions;
import org.divert4j.NoListenerPolicy;
import org.divert4j.linux.Shell;
import org.divert4j.tck.reliability.Figures;
import org.divert4j.testbed.Datagram;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A divert program killed with SIGKILL while diverting (issue 8, S11, S12, S51): with DROP its
 * rules black-hole the diverted traffic until the next open removes them; with PASS_THROUGH the
 * traffic flows while it is dead. Each test runs the program in a child JVM ({@link
 * DivertingChild}) in the host namespace of a kernel test bed, proves that traffic flows through it
 * while alive, kills it, sends again, then opens a host (the cleanup) and sends once more.
 */
class CrashSafetyTest {
  private static final int SINK = 47100;
  private static final int SOURCE = 46100;
  private static final int DIVERT_PORT = 4710;
  private static final int COUNT = 50;

  @BeforeEach
  void root() {
    Root.assumeKernel();
  }

  @Test
  void withDropAKilledProgramsRulesBlackHoleTheTrafficUntilTheNextOpen() throws Exception {
    run(NoListenerPolicy.DROP);
  }

  @Test
  void withPassThroughTrafficFlowsWhileTheKilledProgramIsDead() throws Exception {
    run(NoListenerPolicy.PASS_THROUGH);
  }

  private static String rules(String ns) throws Exception {
    StringBuilder sb = new StringBuilder();
    for (String save : List.of("iptables-nft-save", "iptables-legacy-save")) {
      if (Shell.which(save).isPresent()) {
        sb.append(
            Shell.check(
                null,
                Duration.ofSeconds(30),
                Shell.inNetns("/var/run/netns/" + ns, List.of(save))));
      }
    }
    return sb.toString();
  }

  /** Sends {@code n} datagrams, then counts those that arrive within {@code wait}. */
  private static int sendAndCount(UdpEndpoint from, TestBed bed, UdpEndpoint sink, int n)
      throws Exception {
    while (sink.receive(Duration.ZERO) != null) {
      // drain stale datagrams
    }
    for (int i = 0; i < n; i++) {
      from.send(bed.hostNode().address(), SINK, ("crash-safety " + i).getBytes());
    }
    int arrived = 0;
    long deadline = System.nanoTime() + 2_000_000_000L;
    while (System.nanoTime() < deadline) {
      Datagram d = sink.receive(Duration.ofMillis(100));
      if (d != null) {
        arrived++;
      } else if (arrived == n) {
        break;
      }
    }
    return arrived;
  }

  private void run(NoListenerPolicy policy) throws Exception {
    Figures f = new Figures("rawsocket", "crash-" + policy.name().toLowerCase());
    try (TestBed bed = new RawSocketProvider().testBed(TestBedOptions.defaults())) {
      String ns = bed.host().options().property("rawsocket.netns", null);
      assertNotNull(ns);
      UdpEndpoint sink = bed.hostNode().openUdp(SINK);
      UdpEndpoint from = bed.peer().openUdp(SOURCE);
      assertEquals(COUNT, sendAndCount(from, bed, sink, COUNT), "no rule yet: traffic flows");
      String name;
      long pid;
      try (HostChild child =
          HostChild.start(
              DivertingChild.class,
              ns,
              policy.name(),
              Integer.toString(SINK),
              Integer.toString(DIVERT_PORT))) {
        name = child.host();
        pid = child.pid();
        assertNotNull(name, "the child opened a host");
        int alive = sendAndCount(from, bed, sink, COUNT);
        f.put("arrivedWhileAlive", alive + "/" + COUNT);
        assertEquals(COUNT, alive, "the live program writes everything back");
        assertTrue(child.kill()); // SIGKILL: no shutdown hook, no close
      }
      assertTrue(
          rules(ns).contains("divert4j:" + name + ":" + pid + ":"),
          "the killed program's rules are still installed");
      int dead = sendAndCount(from, bed, sink, COUNT);
      f.put("arrivedWhileDead", dead + "/" + COUNT);
      assertTrue(
          rules(ns).contains("divert4j:" + name + ":"), "still nobody has removed its rules");
      try (DivertHost cleaner =
          new RawSocketProvider()
              .open(HostOptions.builder().property("rawsocket.netns", ns).build())) {
        assertFalse(rules(ns).contains("divert4j:" + name + ":"), "the next open removed them");
      }
      int after = sendAndCount(from, bed, sink, COUNT);
      f.put("arrivedAfterNextOpen", after + "/" + COUNT).report();
      if (policy == NoListenerPolicy.DROP) {
        assertEquals(0, dead, "DROP: the dead program's rules black-hole the traffic");
      } else {
        assertEquals(COUNT, dead, "PASS_THROUGH: traffic flows while the program is dead");
      }
      assertEquals(COUNT, after, "after the cleanup traffic flows");
    }
  }
}
