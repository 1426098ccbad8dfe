package org.divert4j.linux.testbed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.divert4j.linux.Datagrams;
import org.divert4j.linux.Native;
import org.divert4j.linux.Shell;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The namespace broker (root only): a client gets a namespace made for it and a UDP socket made
 * inside that namespace, and everything the broker made is gone when the client disconnects. The
 * broker refuses what is not its client's: other namespaces, the broker's own namespace, programs
 * and ip arguments that reach elsewhere.
 */
class NamespaceBrokerTest {
  private Path dir;
  private NamespaceBroker broker;

  @BeforeEach
  void start() throws IOException {
    assumeTrue(Shell.isRoot(), "the broker needs root");
    dir = Files.createTempDirectory("d4j-broker-");
    // no client namespace: this JVM runs in the broker's own, which it never configures
    broker = NamespaceBroker.start(dir.resolve("s"), null, -1);
  }

  @AfterEach
  void stop() throws IOException {
    if (broker != null) {
      broker.close();
      Files.deleteIfExists(dir);
    }
  }

  /** Whether /proc/net/udp6 of the namespace of whoever reads it lists a socket bound to port. */
  private static boolean listed(String udp6, int port) {
    String hex = String.format(Locale.ROOT, ":%04X ", port);
    for (String line : udp6.split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length > 2 && (f[1] + " ").endsWith(hex)) {
        return true;
      }
    }
    return false;
  }

  @Test
  void aSocketMadeInABrokeredNamespaceStaysThere() throws Exception {
    NamespaceBrokerClient client = NamespaceBrokerClient.connect(dir.resolve("s"));
    String name;
    int fd = -1;
    try {
      Netns peer = client.create("peer");
      name = peer.name();
      assertTrue(peer.isBrokered());
      assertTrue(Netns.list().contains(name), "the broker made " + name);
      assertTrue(name.startsWith(Netns.PREFIX + ProcessHandle.current().pid() + "-"));
      assertTrue(peer.ip("-o", "link", "show", "dev", "lo").contains("UP"), "loopback up");
      fd = peer.socket(Native.AF_INET6, Native.SOCK_DGRAM, Native.IPPROTO_UDP);
      ByteBuffer sa = Native.allocate(Native.SIZEOF_SOCKADDR_IN6);
      sa.putShort(0, (short) Native.AF_INET6);
      sa.put(2, (byte) (47301 >>> 8));
      sa.put(3, (byte) 47301);
      Datagrams.bind(fd, sa); // bound here, by this process, in the peer's namespace
      String inPeer = peer.exec("cat", "/proc/net/udp6").stdout();
      assertTrue(listed(inPeer, 47301), "the peer's namespace has the socket:\n" + inPeer);
      String here = Files.readString(Path.of("/proc/net/udp6"));
      assertFalse(listed(here, 47301), "this namespace has not:\n" + here);
      // sysctls and link reads happen in the peer too
      peer.sysctl("net.ipv4.ip_forward", "1");
      assertEquals("1", peer.sysctl("net.ipv4.ip_forward"));
      assertEquals(1, peer.link("lo").index());
    } finally {
      Native.close(fd);
      client.close();
    }
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (Netns.list().contains(name) && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertFalse(Netns.list().contains(name), "the broker deleted " + name + " on disconnect");
  }

  @Test
  void refusesWhatIsNotItsClients() throws Exception {
    NamespaceBrokerClient client = NamespaceBrokerClient.connect(dir.resolve("s"));
    try (Netns peer = client.create("peer")) {
      IOException self = assertThrows(IOException.class, client::self);
      assertTrue(self.getMessage().contains("no client namespace"), self.getMessage());
      Netns other = Netns.brokered("d4j-1-1-host", client, false);
      assertThrows(IOException.class, () -> other.ip("link", "show"));
      assertThrows(IOException.class, () -> peer.exec("sh", "-c", "true"));
      assertThrows(IOException.class, () -> peer.exec("cat", "/etc/shadow"));
      assertThrows(IOException.class, () -> peer.ip("link", "set", "lo", "netns", "1"));
      assertThrows(
          IOException.class,
          () -> peer.ipBatch(List.of(List.of("link", "set", "lo", "netns", "1"))));
      assertThrows(IOException.class, () -> peer.socket(Native.AF_NETLINK, Native.SOCK_RAW, 0));
      assertTrue(peer.exec("ip", "-o", "link", "show").ok(), "what is allowed still works");
    } finally {
      client.close();
    }
  }

  @Test
  void asAProgramItServesUntilItsInputEnds() throws Exception {
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    java.io.PrintStream out = new java.io.PrintStream(bytes, true, "UTF-8");
    Path sock = dir.resolve("p");
    int code =
        NamespaceBroker.run(
            new String[] {sock.toString(), "-"},
            new java.io.ByteArrayInputStream(new byte[0]),
            out);
    assertEquals(0, code, bytes.toString("UTF-8"));
    assertEquals("READY " + sock, bytes.toString("UTF-8").strip());
    assertFalse(Files.exists(sock), "its socket is removed when it stops");
    assertEquals(64, NamespaceBroker.run(new String[] {}, System.in, out), "usage");
  }

  /**
   * A client in its own namespace: the broker configures that namespace for it, restores it when
   * the client closes its handle (the veth it made is gone, the sysctl it set is back), and deletes
   * the client's other namespaces when the client exits.
   */
  @Test
  void restoresTheClientsNamespaceAndCleansUpWhenTheClientExits() throws Exception {
    broker.close();
    try (Netns clientNs = Netns.create(Netns.uniqueName("client"))) {
      broker = NamespaceBroker.start(dir.resolve("c"), clientNs.path().toString(), -1);
      String before = clientNs.sysctl("net.ipv4.ip_forward");
      String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      Process p =
          new ProcessBuilder(
                  Shell.inNetns(
                      clientNs.path().toString(),
                      List.of(
                          javaBin,
                          "--enable-native-access=ALL-UNNAMED",
                          "-cp",
                          System.getProperty("java.class.path"),
                          BrokerSelfChild.class.getName(),
                          dir.resolve("c").toString())))
              .redirectErrorStream(true)
              .start();
      try {
        java.io.BufferedReader r =
            new java.io.BufferedReader(
                new java.io.InputStreamReader(
                    p.getInputStream(), java.nio.charset.StandardCharsets.UTF_8));
        String ready = r.readLine();
        assertTrue(ready != null && ready.startsWith("READY "), "child: " + ready);
        String peer = ready.substring(6);
        assertTrue(Netns.list().contains(peer), "the broker made the client's peer");
        assertEquals(1400, clientNs.link("d4jx0").mtu(), "the veth is in the client's namespace");
        assertEquals("1", clientNs.sysctl("net.ipv4.ip_forward"));
        p.getOutputStream().write("reset\n".getBytes());
        p.getOutputStream().flush();
        assertEquals("RESET", r.readLine());
        assertThrows(IOException.class, () -> clientNs.link("d4jx0"), "the veth is gone");
        assertEquals(before, clientNs.sysctl("net.ipv4.ip_forward"), "the sysctl is back");
        assertTrue(Netns.list().contains(peer), "the peer lives until the client goes");
        p.getOutputStream().close();
        assertTrue(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS));
        // a session leaves the broker's list only after it removed what it made
        assertTrue(broker.awaitNoSessions(java.time.Duration.ofSeconds(30)), "the session ended");
        assertFalse(Netns.list().contains(peer), "the client exited: its peer is deleted");
      } finally {
        p.destroyForcibly();
      }
    }
  }
}
