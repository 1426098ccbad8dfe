package org.divert4j.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class TckSettingsTest {
  @Test
  void parametersWinOverTheEnvironmentWhichWinsOverDefaults() {
    Map<String, String> env = Map.of("DIVERT_TCK_BACKEND", "pcap", "DIVERT_TCK_TIMEOUT", "2s");
    TckSettings s =
        TckSettings.read(
            k -> k.equals(TckSettings.BACKEND) ? Optional.of("SIM") : Optional.empty(), env);
    assertEquals(Optional.of("sim"), s.backend());
    assertEquals(Duration.ofSeconds(2), s.timeout());
    assertEquals(false, s.requireAvailable());
  }

  @Test
  void durationsAcceptSecondsMillisAndIso() {
    assertEquals(Duration.ofMillis(500), TckSettings.parseDuration("k", "500ms"));
    assertEquals(Duration.ofMillis(1500), TckSettings.parseDuration("k", "1.5s"));
    assertEquals(Duration.ofSeconds(3), TckSettings.parseDuration("k", "PT3S"));
    assertEquals(Duration.ofMillis(250), TckSettings.parseDuration("k", "250"));
  }

  @Test
  void badValuesNameTheSetting() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                TckSettings.read(
                    k -> k.equals(TckSettings.TIMEOUT) ? Optional.of("soon") : Optional.empty(),
                    Map.of()));
    assertTrue(e.getMessage().contains("divert.tck.timeout"), e.getMessage());
    assertTrue(e.getMessage().contains("DIVERT_TCK_TIMEOUT"), e.getMessage());
    IllegalArgumentException e2 =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                TckSettings.read(
                    k -> Optional.empty(), Map.of("DIVERT_TCK_REQUIRE_AVAILABLE", "yes")));
    assertTrue(e2.getMessage().contains("divert.tck.requireAvailable"), e2.getMessage());
  }

  @Test
  void environmentNamesFollowTheSettingNames() {
    assertEquals(
        "DIVERT_TCK_REQUIRE_AVAILABLE", TckSettings.envName(TckSettings.REQUIRE_AVAILABLE));
    assertEquals("DIVERT_TCK_REPORT_DIR", TckSettings.envName(TckSettings.REPORT_DIR));
  }
}
