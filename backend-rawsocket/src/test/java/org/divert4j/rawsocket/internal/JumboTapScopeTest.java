package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.divert4j.NetInterface;
import org.junit.jupiter.api.Test;

/** Where the jumbo tap listens: the one interface that can carry a 65532-byte packet, or all. */
class JumboTapScopeTest {
  private static NetInterface iface(String name, int index, int mtu) {
    return new NetInterface(name, index, List.of(), mtu);
  }

  private static final NetInterface LO = iface("lo", 1, 65535);
  private static final NetInterface ETH = iface("eth0", 2, 1500);
  private static final NetInterface JUMBO_VETH = iface("veth0", 3, 65535);
  private static final NetInterface SHORT_OF_IT = iface("veth1", 4, JumboTap.MIN - 1);

  @Test
  void onlyLoopbackCanCarryOneSoTheTapListensThereAlone() {
    assertEquals(1, JumboTap.scope(List.of(LO, ETH, SHORT_OF_IT), false));
  }

  @Test
  void twoInterfacesThatCanCarryOneNeedEveryInterface() {
    assertEquals(0, JumboTap.scope(List.of(LO, ETH, JUMBO_VETH), false));
  }

  @Test
  void theOnlyJumboInterfaceNeedNotBeLoopback() {
    assertEquals(3, JumboTap.scope(List.of(iface("lo", 1, 1500), ETH, JUMBO_VETH), false));
  }

  @Test
  void segmentOffloadNeedsEveryInterfaceSinceGroPacketsComeThroughAny() {
    assertEquals(0, JumboTap.scope(List.of(LO, ETH), true));
  }

  @Test
  void noneCanCarryOneYetSoTheTapWaitsOnTheFirstInterfaceUntilItsFirstMiss() {
    assertEquals(1, JumboTap.scope(List.of(iface("lo", 1, 1500), ETH), false));
    assertEquals(0, JumboTap.scope(List.of(), false));
  }
}
