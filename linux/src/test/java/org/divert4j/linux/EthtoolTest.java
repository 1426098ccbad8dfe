package org.divert4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import org.divert4j.linux.testbed.Netns;
import org.divert4j.linux.testbed.VethPair;
import org.junit.jupiter.api.Test;

/** Ethtool features, driver and veth peer, compared with what the ethtool command shows. */
class EthtoolTest {
  @Test
  void readsAndChangesFeaturesAndFindsTheVethPeer() throws Exception {
    assumeTrue(Shell.isRoot(), "creating namespaces and veths needs root");
    try (Netns a = Netns.create(Netns.uniqueName("etha"));
        Netns b = Netns.create(Netns.uniqueName("ethb"));
        NetnsThread ta = NetnsThread.open(a.path().toString(), "etha");
        NetnsThread tb = NetnsThread.open(b.path().toString(), "ethb")) {
      VethPair p = VethPair.create(a, "x0", b, "y0", 1500);
      Ethtool.Features f = ta.run(() -> Ethtool.features("x0"));
      String shown = a.execChecked("ethtool", "-k", "x0");
      for (String name : List.of("tx-checksum-ip-generic", "tx-tcp-segmentation", "rx-gro")) {
        int bit = f.bit(name);
        assertTrue(bit >= 0, name + " is a feature name: " + List.of(f.names()));
        String line = (name.equals("rx-gro") ? "generic-receive-offload" : name) + ": ";
        boolean on = shown.contains(line + "on");
        assertEquals(on, f.active()[bit], name + " as ethtool -k shows it:\n" + shown);
      }
      assertTrue(f.isActive("tx-checksum-ip-generic"), "a veth checksums in software by default");
      ta.run(
          () -> {
            Ethtool.request("x0", List.of("tx-checksum-ip-generic", "tx-tcp-segmentation"), false);
            return null;
          });
      Ethtool.Features off = ta.run(() -> Ethtool.features("x0"));
      assertFalse(off.isActive("tx-checksum-ip-generic"));
      assertFalse(off.isActive("tx-tcp-segmentation"));
      assertTrue(a.execChecked("ethtool", "-k", "x0").contains("tx-checksum-ip-generic: off"));
      ta.run(
          () -> {
            Ethtool.request("x0", List.of("tx-checksum-ip-generic", "tx-tcp-segmentation"), true);
            return null;
          });
      Ethtool.Features back = ta.run(() -> Ethtool.features("x0"));
      assertTrue(back.isActive("tx-checksum-ip-generic"));
      assertTrue(back.isActive("tx-tcp-segmentation"));

      assertEquals("veth", ta.run(() -> Ethtool.driver("x0")));
      int peer = ta.run(() -> Ethtool.vethPeerIndex("x0"));
      assertEquals(p.b().index(), peer);
      assertEquals("y0", tb.run(() -> Ethtool.nameOf(peer)));
      assertEquals(p.a().index(), (int) tb.run(() -> Ethtool.vethPeerIndex("y0")));
      assertEquals(0, (int) ta.run(() -> Ethtool.vethPeerIndex("lo")), "lo is not a veth");
      // The peer's namespace, as namespace a knows it, tells b from any other namespace that has
      // an interface with the peer's index.
      int xIndex = p.a().index();
      int nsid = ta.run(() -> LinkNetns.peerNamespaceId(xIndex));
      assertTrue(nsid >= 0, "the peer is in another namespace: " + nsid);
      assertEquals(nsid, (int) ta.run(() -> LinkNetns.idOf(b.path().toString())));
      assertNotEquals(nsid, (int) ta.run(() -> LinkNetns.idOf(a.path().toString())));
      assertEquals(-1, (int) ta.run(() -> LinkNetns.peerNamespaceId(1)), "lo has no other end");
      assertNull(ta.run(() -> Ethtool.nameOf(9999)));
      ErrnoException missing =
          assertThrows(ErrnoException.class, () -> ta.run(() -> Ethtool.features("nosuch0")));
      assertEquals(Errors.ENODEV, missing.errno());
    }
  }
}
