package org.divert4j.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.concurrent.atomic.AtomicReference;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertException;
import org.divert4j.PermissionException;
import org.divert4j.linux.testbed.Netns;
import org.junit.jupiter.api.Test;

/** The namespace thread: both faces (test bed, backend) and what entering a namespace needs. */
class NetnsThreadTest {
  @Test
  void threadRunsTasksAndPassesTheirExceptionsThrough() throws Exception {
    NetnsThread t = NetnsThread.open(null, "here");
    String name = t.run(() -> Thread.currentThread().getName());
    assertTrue(name.startsWith("d4j-netns-") && name.endsWith("-here"), name);
    assertFalse(t.inode().equals("unknown"), "the namespace inode is read");
    IOException e =
        assertThrows(
            IOException.class,
            () ->
                t.run(
                    () -> {
                      throw new IOException("boom");
                    }));
    assertEquals("boom", e.getMessage());
    t.close();
    assertTrue(t.isClosed());
    assertThrows(IOException.class, () -> t.run(() -> 1));
    assertEquals("/var/run/netns/a", NetnsThread.pathOf("a"));
    assertEquals("/proc/1/ns/net", NetnsThread.pathOf("/proc/1/ns/net"));
    assertEquals(null, NetnsThread.pathOf(" "));
  }

  @Test
  void backendFaceMapsFailuresToDivertExceptions() throws Exception {
    NetnsThread t = NetnsThread.start(null, "backend");
    assertEquals(7, t.call(() -> 7));
    DivertException wrapped =
        assertThrows(
            DivertException.class,
            () ->
                t.call(
                    () -> {
                      throw new IOException("boom");
                    }));
    assertInstanceOf(IOException.class, wrapped.getCause());
    t.close();
    assertThrows(DivertClosedException.class, () -> t.call(() -> 1));
    DivertException missing =
        assertThrows(DivertException.class, () -> NetnsThread.start("/nonexistent/ns", "x"));
    assertFalse(missing instanceof PermissionException, missing.toString());
    assertEquals(OptionalInt.of(Errors.ENOENT), missing.errno());
  }

  /**
   * Entering a namespace without CAP_SYS_ADMIN fails with EPERM, which both faces report as a
   * missing privilege. Unprivileged users lack the capability already; root drops it on one thread.
   */
  @Test
  void enteringWithoutCapSysAdminIsAPermissionFailure() throws Exception {
    AtomicReference<Object> open = new AtomicReference<>();
    AtomicReference<Object> start = new AtomicReference<>();
    Thread th =
        new Thread(
            () -> {
              try {
                Capabilities.dropEffective(Capabilities.CAP_SYS_ADMIN);
                open.set(assertThrows(ErrnoException.class, () -> NetnsThread.open(self(), "x")));
                start.set(
                    assertThrows(PermissionException.class, () -> NetnsThread.start(self(), "y")));
              } catch (Throwable e) {
                open.set(e);
              }
            });
    th.start();
    th.join();
    ErrnoException denied = assertInstanceOf(ErrnoException.class, open.get());
    assertTrue(denied.isPermission(), denied.getMessage());
    assertEquals(Errors.EPERM, denied.errno());
    assertInstanceOf(PermissionException.class, start.get());
  }

  private static String self() {
    return "/proc/" + ProcessHandle.current().pid() + "/ns/net";
  }

  /** A thread entered into a namespace is there, and the rest of the JVM is not. Root only. */
  @Test
  void threadEntersTheNamespace() throws Exception {
    assumeTrue(Shell.isRoot(), "creating a namespace needs root");
    try (Netns ns = Netns.create(Netns.uniqueName("floor"));
        NetnsThread inside = NetnsThread.open(ns.path().toString(), "floor");
        NetnsThread here = NetnsThread.open(null, "here")) {
      assertNotEquals(here.inode(), inside.inode());
      assertEquals(here.inode(), inode(), "the caller stays where it is");
      assertEquals(inside.inode(), inside.run(NetnsThreadTest::inode));
    }
  }

  private static String inode() throws IOException {
    String link = Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString();
    return link.substring(link.indexOf('[') + 1, link.indexOf(']'));
  }
}
