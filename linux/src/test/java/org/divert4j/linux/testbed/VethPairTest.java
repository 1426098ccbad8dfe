package org.divert4j.linux.testbed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.util.HexFormat;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.divert4j.linux.Shell;
import org.junit.jupiter.api.Test;

/**
 * A veth pair's ends read on their namespaces' threads give what {@code ip} prints for them (root
 * only).
 */
class VethPairTest {
  @Test
  void endsReadWithoutAProcessAgreeWithIp() throws Exception {
    assumeTrue(Shell.isRoot(), "namespaces need root");
    try (Netns a = Netns.create(Netns.uniqueName("veth-a"));
        Netns b = Netns.create(Netns.uniqueName("veth-b"))) {
      VethPair p = VethPair.create(a, "eth0", b, "eth1", 1400);
      for (VethPair.End e : new VethPair.End[] {p.a(), p.b()}) {
        String link = e.netns().ip("-o", "link", "show", "dev", e.name());
        Matcher index = Pattern.compile("^(\\d+):\\s").matcher(link);
        Matcher mac = Pattern.compile("link/ether ([0-9a-f:]{17})").matcher(link);
        assertEquals(true, index.find() && mac.find(), link);
        assertEquals(Integer.parseInt(index.group(1)), e.index());
        assertEquals(mac.group(1).replace(":", ""), HexFormat.of().formatHex(e.mac()));
        String six = e.netns().ip("-6", "-o", "addr", "show", "dev", e.name(), "scope", "link");
        Matcher ll = Pattern.compile("inet6 (fe80:[0-9a-f:]+)/").matcher(six);
        assertEquals(true, ll.find(), six);
        assertNotNull(e.linkLocal());
        assertEquals(InetAddress.getByName(ll.group(1)), e.linkLocal());
      }
      assertThrows(IOException.class, () -> new VethPair.End(a, "eth9").index(), "no such link");
    }
  }
}
