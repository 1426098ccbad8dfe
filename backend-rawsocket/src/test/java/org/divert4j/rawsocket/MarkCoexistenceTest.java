package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.Inet4Address;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.FragmentMode;
import org.divert4j.HostOptions;
import org.divert4j.linux.Iptables;
import org.divert4j.linux.Shell;
import org.divert4j.testbed.MarkCounter;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The kernel backend on a host that also runs kube-proxy (iptables mode), wg-quick and Tailscale:
 * their rule sets (test resources, written from their sources and documentation) are loaded into
 * the test bed's host namespace, one after the other. A host whose rawsocket.markMask overlaps the
 * marks one of them sets or matches is refused, naming that program's rule (S74); one with the
 * default mask opens (their policy routing rules, which match marks, count too), and a program that
 * writes back every datagram of an output rule leaves their marks intact, as does the chain for
 * datagrams no rule matches (S3, S73).
 */
class MarkCoexistenceTest {
  private static final int DIVERTED = 7000;
  private static final int UNMATCHED = 7002;

  /** Their marks, as their sockets or rules set them. */
  private static final int[] THEIR_MARKS = {
    0x4000, 0x8000, 0xca6c, 0x40000, 0x80000, 0x80000 | 0x4000
  };

  @BeforeEach
  void root() {
    Root.assumeKernel();
  }

  private static String ruleSet(String name) throws IOException {
    try (InputStream in = MarkCoexistenceTest.class.getResourceAsStream(name)) {
      return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
    }
  }

  private static HostOptions options(String mask) {
    HostOptions.Builder b = HostOptions.builder().fragments(FragmentMode.ALWAYS_DEFRAGMENT);
    return mask == null ? b.build() : b.property("rawsocket.markMask", mask).build();
  }

  private static void refused(TestBed bed, String mask, String... named) {
    DivertException e =
        assertThrows(
            DivertException.class,
            () -> bed.openAnotherHost(options(mask)).close(),
            "a host with rawsocket.markMask=" + mask);
    for (String n : named) {
      assertTrue(e.getMessage().contains(n), "the refusal names " + n + ": " + e.getMessage());
    }
    assertTrue(e.getMessage().contains("rawsocket.markOverlap=proceed"), e.getMessage());
  }

  @Test
  void overlappingMasksAreRefusedAndTheDefaultLeavesTheirMarksIntact() throws Exception {
    try (TestBed bed = new RawSocketProvider().testBed(TestBedOptions.defaults())) {
      String nsPath = "/var/run/netns/" + bed.host().options().property("rawsocket.netns", null);
      Iptables ipt = Iptables.detect(null).orElseThrow();

      ipt.restore(nsPath, ruleSet("kube-proxy.rules"));
      refused(bed, "0xff80", "-A KUBE-", "0x8000/0x8000");
      ipt.restore(nsPath, ruleSet("wg-quick.rules"));
      refused(bed, "0x7fc", "wg-quick(8) rule for wg0", "--mark 0xca6c");
      ipt.restore(nsPath, ruleSet("tailscale.rules"));
      refused(bed, "0x1ff0000", "-A ts-", "0x40000/0xff0000");
      // their policy routing: Tailscale's bypass mark and wg-quick's "not fwmark" rule
      for (String r :
          List.of(
              "fwmark 0x80000/0xff0000 table main priority 5210",
              "not fwmark 0xca6c table 51820 priority 32765")) {
        List<String> cmd = new ArrayList<>(List.of("ip", "rule", "add"));
        cmd.addAll(List.of(r.split(" ")));
        Shell.check(null, java.time.Duration.ofSeconds(30), Shell.inNetns(nsPath, cmd));
      }
      refused(bed, "0xff80000", "ip rule: 5210:", "fwmark 0x80000/0xff0000");
      try (DivertHost told =
          bed.openAnotherHost(
              HostOptions.builder()
                  .fragments(FragmentMode.ALWAYS_DEFRAGMENT)
                  .property("rawsocket.markMask", "0x1ff0000")
                  .property("rawsocket.markOverlap", "proceed")
                  .build())) {
        assertTrue(told.isOpen(), "rawsocket.markOverlap=proceed opens anyway");
      }

      // kube-proxy before 1.29 drops every local packet with 0x8000, which WireGuard's 0xca6c
      // has: a conflict of theirs, not divert4j's. Without that line both marks can be sent.
      ipt.restore(
          nsPath,
          "*filter\n-D KUBE-FIREWALL -m comment --comment \"kubernetes firewall for dropping"
              + " marked packets\" -m mark --mark 0x8000/0x8000 -j DROP\nCOMMIT\n");
      Inet4Address peer = bed.peer().address();
      int n = 5;
      try (DivertHost h = bed.openAnotherHost(options(null))) {
        h.addRule(DivertRule.parse("output -p udp --dport " + DIVERTED + " -j DIVERT 4100"));
        try (DivertSocket socket = h.bind(4100);
            Reflector reflector = new Reflector(socket);
            MarkCounter diverted = bed.hostNode().countOutgoingMarks(DIVERTED, -1, THEIR_MARKS);
            MarkCounter unmatched = bed.hostNode().countOutgoingMarks(UNMATCHED, -1, THEIR_MARKS)) {
          for (int i = 0; i < n; i++) {
            for (int m : THEIR_MARKS) {
              bed.hostNode().sendUdp(peer, 7001, DIVERTED, new byte[] {(byte) i}, m);
              bed.hostNode().sendUdp(peer, 7001, UNMATCHED, new byte[] {(byte) i}, m);
            }
          }
          reflector.await(n * THEIR_MARKS.length, java.time.Duration.ofSeconds(10));
          assertEquals(List.of(), reflector.errors(), "write-back errors");
          long end = System.nanoTime() + java.time.Duration.ofSeconds(10).toNanos();
          List<String> wrong;
          do {
            wrong = new ArrayList<>();
            for (int m : THEIR_MARKS) {
              if (diverted.count(m) != n) {
                wrong.add("reinjected 0x" + Integer.toHexString(m) + ": " + diverted.count(m));
              }
              if (unmatched.count(m) != n) {
                wrong.add("unmatched 0x" + Integer.toHexString(m) + ": " + unmatched.count(m));
              }
            }
          } while (!wrong.isEmpty() && System.nanoTime() - end < 0 && pause());
          assertEquals(
              List.of(), wrong, "datagrams that left with their mark, of " + n + " per mark");
          assertEquals(n * THEIR_MARKS.length, reflector.seen().size(), "each diverted once");
        }
      }
    }
  }

  private static boolean pause() throws InterruptedException {
    Thread.sleep(20);
    return true;
  }
}
