package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Map;
import org.divert4j.DivertAddress;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.NamespaceNode;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.linux.testbed.UnprivilegedJava;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.Test;

/**
 * A local user without privileges ({@code nobody}, no capabilities, another process) cannot take
 * over a running host's divert queue, read its packets another way, or change or remove its rules,
 * through divert4j or around it ({@link IntruderChild}); the host keeps diverting meanwhile. Root
 * only.
 */
class UnprivilegedAgainstRunningHostTest {
  private static final int PORT = 4321;
  private static final String EPERM = "errno 1:";

  private static String rules(Netns ns) throws Exception {
    // counters aside: packets may cross meanwhile
    return ns.execChecked("iptables-nft-save")
        .replaceAll("\\[\\d+:\\d+\\]", "")
        .replaceAll("(?m)^#.*\n", "");
  }

  @Test
  void nobodyCannotBindTheQueueReadPacketsOrChangeTheRules() throws Exception {
    Root.assumeKernel();
    String why = UnprivilegedJava.unavailableReason();
    assumeTrue(why == null, () -> "skipped: " + why);
    try (TestBed bed = new RawSocketProvider().testBed(TestBedOptions.defaults());
        UnprivilegedJava child = UnprivilegedJava.prepare(System.getProperty("java.class.path"))) {
      Netns ns = ((NamespaceNode) bed.hostNode()).netns();
      assertEquals(bed.host().options().property("rawsocket.netns", null), ns.name());
      bed.host().addRule(DivertRule.parse("input -p udp --dport 7000 -j DIVERT " + PORT));
      try (DivertSocket s = bed.host().bind(PORT)) {
        String before = rules(ns);
        Shell.Result r =
            child.run(
                ns, Duration.ofSeconds(120), IntruderChild.class.getName(), Integer.toString(PORT));
        System.out.println("unprivileged intruder (" + UnprivilegedJava.USER + "): " + r.stdout());
        assertEquals(0, r.exitCode(), r.describe());
        Map<String, String> ops = UnprivilegedJava.outcomes(r.stdout());
        String both = "PermissionException missing=[CAP_NET_ADMIN, CAP_NET_RAW]";
        for (String op : new String[] {"open", "rules-list", "rules-remove", "rules-cleanup"}) {
          assertTrue(ops.get(op).startsWith(both), op + ": " + ops.get(op));
        }
        assertTrue(
            ops.get("nfqueue-bind").contains(EPERM), "nfqueue-bind: " + ops.get("nfqueue-bind"));
        assertTrue(
            ops.get("packet-socket").contains(EPERM), "packet-socket: " + ops.get("packet-socket"));
        for (String op : new String[] {"iptables-flush-raw", "iptables-flush-mangle"}) {
          assertTrue(ops.get(op).contains("exit "), op + ": " + ops.get(op));
          assertTrue(!ops.get(op).startsWith("OK"), op + ": " + ops.get(op));
        }
        assertEquals(before, rules(ns), "the intruder changed no rule");

        bed.peer().sendUdp(bed.hostNode().address(), 7001, 7000, new byte[] {1, 2, 3});
        DivertAddress a = s.receive(ByteBuffer.allocate(65535), Duration.ofSeconds(5));
        assertNotNull(a, "the host still receives what its rule diverts");
      }
    }
  }
}
