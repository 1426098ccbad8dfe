package org.divert4j.linux.testbed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.util.List;
import org.divert4j.linux.Shell;
import org.junit.jupiter.api.Test;

/**
 * A namespace's {@code ip -batch}: the commands run in order, the family of each comes from its
 * addresses, and the first that fails stops the rest and is named (root only).
 */
class NetnsBatchTest {
  @Test
  void commandsRunInOrderAndTheFailedOneIsNamed() throws IOException {
    assumeTrue(Shell.isRoot(), "namespaces need root");
    try (Netns ns = Netns.create(Netns.uniqueName("batch"))) {
      ns.ipBatch(
          List.of(
              List.of("link", "add", "d0", "type", "veth", "peer", "name", "d1"),
              List.of("link", "set", "dev", "d0", "up"),
              List.of("addr", "add", "10.77.0.1/24", "dev", "d0"),
              List.of("addr", "add", "fd00:77::1/64", "dev", "d0", "nodad"),
              List.of("route", "add", "default", "via", "10.77.0.2"),
              List.of("route", "add", "::/0", "via", "fd00:77::2")));
      assertTrue(ns.ip("-6", "route", "show", "default").contains("via fd00:77::2"));
      assertTrue(ns.ip("route", "show", "default").contains("via 10.77.0.2"));
      IOException e =
          assertThrows(
              IOException.class,
              () ->
                  ns.ipBatch(
                      List.of(
                          List.of("addr", "add", "10.77.1.1/24", "dev", "d0"),
                          List.of("addr", "add", "10.77.2.1/24", "dev", "nosuch"),
                          List.of("addr", "add", "10.77.3.1/24", "dev", "d0"))));
      assertTrue(e.getMessage().contains("10.77.2.1/24 dev nosuch failed"), e.getMessage());
      String v4 = ns.ip("-4", "-o", "addr", "show", "dev", "d0");
      assertTrue(v4.contains("10.77.1.1/24"), "the one before ran: " + v4);
      assertEquals(false, v4.contains("10.77.3.1"), "the one after did not: " + v4);
      assertThrows(
          IllegalArgumentException.class,
          () -> ns.ipBatch(List.of(List.of("link", "set", "d0", "alias", "a b"))));
    }
  }
}
