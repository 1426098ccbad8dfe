package org.divert4j.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TckMainTest {
  @Test
  void anUnverifiedBackendExitsWithTwoAndWritesReports(@TempDir Path dir) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    Path json = dir.resolve("r.json");
    Path xml = dir.resolve("r.xml");
    int code =
        Tck.runMain(
            new String[] {
              "--json",
              json.toString(),
              "--xml",
              xml.toString(),
              "--rules",
              "S1,S2",
              "tck-selftest-unavailable"
            },
            out);
    assertEquals(2, code, bytes.toString(StandardCharsets.UTF_8));
    assertTrue(bytes.toString(StandardCharsets.UTF_8).contains("NOT VERIFIED"));
    assertTrue(Files.readString(json).contains("\"tck-selftest-unavailable\""));
    assertTrue(Files.readString(xml).contains("<testsuites"));
  }

  @Test
  void badUsageExitsWith64() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int code =
        Tck.runMain(
            new String[] {"--frobnicate"}, new PrintStream(bytes, true, StandardCharsets.UTF_8));
    assertEquals(64, code);
    assertTrue(bytes.toString(StandardCharsets.UTF_8).startsWith("usage:"));
  }
}
