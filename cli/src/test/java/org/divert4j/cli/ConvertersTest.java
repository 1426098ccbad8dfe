package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

class ConvertersTest {
  private final Converters.Durations durations = new Converters.Durations();

  @Test
  void durationsInTheUsualSpellings() {
    assertEquals(Duration.ofSeconds(10), durations.convert("10s"));
    assertEquals(Duration.ofMillis(500), durations.convert("500ms"));
    assertEquals(Duration.ofMillis(1500), durations.convert("1.5s"));
    assertEquals(Duration.ofMinutes(2), durations.convert("2m"));
    assertEquals(Duration.ofHours(1), durations.convert("1h"));
    assertEquals(Duration.ofSeconds(3), durations.convert("3"));
    assertEquals(Duration.ofSeconds(10), durations.convert("PT10S"));
  }

  @Test
  void badDurationsAreRefused() {
    for (String bad : new String[] {"", "soon", "0s", "-1s", "10x", "ms"}) {
      assertThrows(TypeConversionException.class, () -> durations.convert(bad), bad);
    }
  }

  @Test
  void portsAreOneTo65535() {
    Converters.Port port = new Converters.Port();
    assertEquals(1, port.convert("1"));
    assertEquals(65535, port.convert("65535"));
    for (String bad : new String[] {"0", "65536", "-1", "http", ""}) {
      TypeConversionException e =
          assertThrows(TypeConversionException.class, () -> port.convert(bad));
      assertEquals(
          "a divert port must be a number from 1 to 65535, not '" + bad + "'", e.getMessage());
    }
  }
}
