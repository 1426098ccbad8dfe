package org.divert4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The module descriptors work: with api and the backends on the module path, ServiceLoader finds
 * every provider through {@code provides}, in its named module, and the kernel backend's JNR
 * binding can still be generated (the tests themselves run on the class path). Native access is
 * enabled by module name, as the README says, and no warning is printed.
 */
class ModulePathTest {
  private static final List<String> NOT_MODULES =
      List.of(
          "junit",
          "opentest4j",
          "apiguardian",
          "picocli",
          "divert4j-tck",
          "divert4j-cli",
          "/tck/",
          "/cli/");

  /** The module names of jffi and JNA (their Automatic-Module-Name). */
  static final String NATIVE_MODULES = "org.jnrproject.jffi,com.sun.jna";

  @Test
  void providersAreFoundInTheirNamedModules() throws Exception {
    List<String> modulePath = new ArrayList<>();
    String testClasses = null;
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      String n = e.replace('\\', '/');
      if (n.endsWith("cli/target/test-classes")) {
        testClasses = e;
      } else if (NOT_MODULES.stream().noneMatch(n::contains)) {
        modulePath.add(e);
      }
    }
    assertTrue(testClasses != null, "cli test classes on the class path");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p =
        new ProcessBuilder(
                java,
                // What the README tells module-path users: native access for the two modules that
                // load native libraries, jffi (JNR-FFI) and JNA (pcap4j); JDK 24+ warns without it.
                "--enable-native-access=" + NATIVE_MODULES,
                "-p",
                String.join(File.pathSeparator, modulePath),
                "--add-modules",
                "ALL-MODULE-PATH",
                "-cp",
                testClasses,
                ModulePathCheck.class.getName())
            .redirectErrorStream(true)
            .start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM finished");
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.contains("sim org.divert4j.sim available"), out);
    assertTrue(out.contains("rawsocket org.divert4j.rawsocket "), out);
    assertTrue(out.contains("pcap org.divert4j.pcap "), out);
    assertTrue(out.contains("ping true"), out);
    // Unavailable is fine (say, not root); what must not happen is a binding the module system
    // forbids, which is what a wrong descriptor gives.
    assertTrue(!out.contains("IllegalAccessError"), out);
    // Both backends loaded their native libraries (availability probes them), and with native
    // access enabled for those two modules no JVM prints a warning (on 24+ it would otherwise).
    assertTrue(!out.contains("WARNING"), out);
  }
}
