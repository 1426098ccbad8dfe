package org.divert4j.linux.testbed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.divert4j.linux.Shell;
import org.junit.jupiter.api.Test;

/**
 * A namespace's sysctls, read and written on its own thread: they reach that namespace and no
 * other, agree with what a process inside it sees, and fail loudly (root only).
 */
class NetnsSysctlTest {
  private static final String KEY = "net.ipv4.ipfrag_time";

  @Test
  void sysctlsReachTheNamespaceOnly() throws IOException {
    assumeTrue(Shell.isRoot(), "a namespace of its own needs root");
    String outside = Files.readString(Path.of("/proc/sys/net/ipv4/ipfrag_time")).trim();
    try (Netns a = Netns.create(Netns.uniqueName("sysctl-a"));
        Netns b = Netns.create(Netns.uniqueName("sysctl-b"))) {
      String other = "31".equals(b.sysctl(KEY)) ? "32" : "31";
      a.sysctl(KEY, other);
      assertEquals(other, a.sysctl(KEY));
      assertEquals(other, a.execChecked("cat", "/proc/sys/net/ipv4/ipfrag_time").trim());
      assertNotEquals(other, b.sysctl(KEY), "another namespace keeps its own");
      assertEquals(outside, Files.readString(Path.of("/proc/sys/net/ipv4/ipfrag_time")).trim());
      b.execChecked("sh", "-c", "echo 45 > /proc/sys/net/ipv4/ipfrag_time");
      assertEquals("45", b.sysctl(KEY), "what a process inside wrote");
      IOException refused = assertThrows(IOException.class, () -> a.sysctl(KEY, "x"));
      assertTrue(refused.getMessage().contains(KEY), refused.getMessage());
      assertThrows(IOException.class, () -> a.sysctl("net.ipv4.no_such_sysctl"));
      assertThrows(IOException.class, () -> a.sysctl("net.ipv4.no_such_sysctl", "1"));
      a.close();
      assertThrows(IOException.class, () -> a.sysctl(KEY), "closed");
    }
  }
}
