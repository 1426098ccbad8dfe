package org.divert4j.linux.testbed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The broker's messages survive the round trip, and a damaged one is refused. */
class BrokerWireTest {
  @Test
  void roundTrip() throws IOException {
    List<String> m = List.of("exec", "self", "5000", "+*mangle\nCOMMIT\n", "", "ü");
    assertEquals(m, BrokerWire.decode(BrokerWire.encode(m)));
    assertEquals(List.of(), BrokerWire.decode(BrokerWire.encode(List.of())));
  }

  @Test
  void refusesDamage() {
    byte[] b = BrokerWire.encode(List.of("create", "peer"));
    byte[] cut = java.util.Arrays.copyOf(b, b.length - 1);
    assertThrows(IOException.class, () -> BrokerWire.decode(cut));
    byte[] longer = java.util.Arrays.copyOf(b, b.length + 1);
    assertThrows(IOException.class, () -> BrokerWire.decode(longer));
  }
}
