package org.divert4j.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A simulation-only application needs no Linux code and no FFI library: the api jar and this
 * backend hold none, and nothing on this module's test class path (api, sim, tck, JUnit, jqwik)
 * brings the Linux floor, JNR-FFI/jffi or JNA along. If this fails, a dependency was added that
 * drags native code into pure-Java use; {@code mvn dependency:tree -pl backend-sim} shows which.
 */
class NoLinuxOnClassPathTest {
  private static final String[] NATIVE_CLASSES = {
    "org.divert4j.linux.Native", // the Linux floor's binding
    "org.divert4j.linux.testbed.NamespaceTestBed", // the floor's namespace test bed
    "org.divert4j.linux.Shell",
    "jnr.ffi.LibraryLoader", // JNR-FFI
    "com.kenai.jffi.Foreign", // jffi, JNR-FFI's native stub
    "com.sun.jna.Native", // JNA
  };

  @Test
  void noLinuxFloorAndNoFfiLibraryAreLoadable() {
    ClassLoader loader = NoLinuxOnClassPathTest.class.getClassLoader();
    List<String> found = new ArrayList<>();
    for (String name : NATIVE_CLASSES) {
      try {
        Class.forName(name, false, loader);
        found.add(name);
      } catch (ClassNotFoundException expected) {
        // absent, as it should be
      }
    }
    assertEquals(List.of(), found, "native code on a simulation-only class path");
  }

  @Test
  void theApiKeepsNoLinuxPackage() {
    Module api = org.divert4j.Divert.class.getModule();
    List<String> linux = new ArrayList<>();
    if (api.isNamed()) {
      for (String p : api.getPackages()) {
        if (p.contains("linux")) {
          linux.add(p);
        }
      }
    } else {
      // on the class path: the old package would show as a loadable class
      try {
        Class.forName("org.divert4j.testbed.linux.Netns", false, api.getClassLoader());
        linux.add("org.divert4j.testbed.linux");
      } catch (ClassNotFoundException expected) {
        // absent
      }
    }
    assertEquals(List.of(), linux);
  }
}
