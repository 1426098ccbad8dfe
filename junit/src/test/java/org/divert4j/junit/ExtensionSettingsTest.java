package org.divert4j.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtensionConfigurationException;

class ExtensionSettingsTest {
  @Test
  void defaultsToTheSimulationAndSkipping() {
    assertEquals(
        new ExtensionSettings("sim", false),
        ExtensionSettings.read(k -> Optional.empty(), Map.of()));
  }

  @Test
  void aParameterWinsOverTheEnvironment() {
    Map<String, String> params =
        Map.of("divert.backend", " RawSocket ", "divert.tck.requireAvailable", "TRUE");
    Map<String, String> env =
        Map.of("DIVERT_BACKEND", "pcap", "DIVERT_TCK_REQUIRE_AVAILABLE", "false");
    assertEquals(
        new ExtensionSettings("rawsocket", true),
        ExtensionSettings.read(k -> Optional.ofNullable(params.get(k)), env));
  }

  @Test
  void theEnvironmentIsUsedWhenNoParameterIsSet() {
    Map<String, String> env =
        Map.of("DIVERT_BACKEND", "pcap", "DIVERT_TCK_REQUIRE_AVAILABLE", "true");
    assertEquals(
        new ExtensionSettings("pcap", true), ExtensionSettings.read(k -> Optional.of(" "), env));
  }

  @Test
  void aBadRequireAvailableIsRefused() {
    ExtensionConfigurationException e =
        assertThrows(
            ExtensionConfigurationException.class,
            () ->
                ExtensionSettings.read(
                    k ->
                        k.equals("divert.tck.requireAvailable")
                            ? Optional.of("1")
                            : Optional.empty(),
                    Map.of()));
    assertTrue(e.getMessage().contains("not '1'"), e.getMessage());
  }
}
