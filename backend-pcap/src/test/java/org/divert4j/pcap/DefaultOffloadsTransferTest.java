package org.divert4j.pcap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.divert4j.DivertAddress;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.DropReason;
import org.divert4j.linux.Ethtool;
import org.divert4j.linux.Shell;
import org.divert4j.linux.testbed.NamespaceNode;
import org.divert4j.pcap.testbed.PcapTestBed;
import org.divert4j.spi.Availability;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A 50 MB TCP transfer across the inline segment of the test bed variant that keeps the veth
 * driver's default offloads (TX checksumming, TSO, GSO on): with the default {@code
 * pcap.offloads=disable} it arrives byte for byte (SHA-256 on both ends), not diverted and diverted
 * to a program that writes every segment back (issue 20: before, it delivered 0 bytes). Java
 * sockets made on each node's namespace thread belong to that namespace. Needs root.
 */
class DefaultOffloadsTransferTest {
  private static final int PORT = 5001;
  private static final long BYTES = 50L * 1024 * 1024;
  private static final Duration LIMIT = Duration.ofSeconds(180);

  @BeforeEach
  void needRoot() {
    Availability a = new PcapProvider().availability();
    assumeTrue(Shell.isRoot(), "the pcap test bed needs root (network namespaces)");
    assumeTrue(a.available(), "the pcap backend is unavailable: " + a.reason());
  }

  @Test
  void fiftyMegabytesArriveWhole() throws Exception {
    try (PcapTestBed bed = PcapTestBed.createWithDefaultOffloads(TestBedOptions.defaults())) {
      assertOffloadsOffWhileOpen(bed);
      transfer(bed.peer(), bed.hostNode());
      transfer(bed.hostNode(), bed.peer());
      assertEquals(0, bed.host().stats().dropped(DropReason.TRANSMIT), "" + bed);
    }
  }

  @Test
  void fiftyMegabytesArriveWholeThroughAReinjectingProgram() throws Exception {
    try (PcapTestBed bed = PcapTestBed.createWithDefaultOffloads(TestBedOptions.defaults())) {
      bed.host().addRule(DivertRule.parse("input -p tcp -j DIVERT 4300"));
      bed.host().addRule(DivertRule.parse("output -p tcp -j DIVERT 4300"));
      AtomicLong written = new AtomicLong();
      AtomicBoolean stop = new AtomicBoolean();
      try (DivertSocket s = bed.host().bind(4300)) {
        Thread program =
            new Thread(
                () -> {
                  ByteBuffer buf = ByteBuffer.allocateDirect(65535);
                  try {
                    while (!stop.get()) {
                      DivertAddress a = s.receive(buf.clear(), Duration.ofMillis(100));
                      if (a != null) {
                        s.send(buf.flip(), a);
                        written.incrementAndGet();
                      }
                    }
                  } catch (DivertClosedException e) {
                    // closed: done
                  } catch (Exception e) {
                    e.printStackTrace();
                  }
                },
                "reinjecting-program");
        program.start();
        try {
          transfer(bed.peer(), bed.hostNode());
        } finally {
          stop.set(true);
          program.join(5000);
        }
        assertTrue(written.get() > BYTES / 65535, "the program wrote segments back: " + written);
        assertEquals(0, s.stats().dropped(DropReason.PROGRAM));
      }
    }
  }

  private static void assertOffloadsOffWhileOpen(PcapTestBed bed) throws IOException {
    for (NamespaceNode n : new NamespaceNode[] {bed.peer(), bed.hostNode()}) {
      Ethtool.Features f = n.thread().run(() -> Ethtool.features("eth0"));
      assertFalse(f.isActive("tx-checksum-ip-generic"), n.name() + " eth0, while the host is open");
    }
  }

  /** Sends 50 MB from one node to the other and compares the SHA-256 of what each end saw. */
  private static void transfer(NamespaceNode from, NamespaceNode to) throws Exception {
    ServerSocketChannel server =
        to.thread()
            .run(() -> ServerSocketChannel.open().bind(new InetSocketAddress(to.address(), PORT)));
    SocketChannel client = from.thread().run(SocketChannel::open);
    ExecutorService exec = Executors.newSingleThreadExecutor();
    ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor();
    // A stalled transfer blocks the writer once the socket buffers fill: closing the channel
    // ends the write with an exception, and the test fails instead of hanging.
    watchdog.schedule(
        () -> {
          client.close();
          return null;
        },
        LIMIT.toSeconds(),
        TimeUnit.SECONDS);
    try (server;
        client) {
      Future<String> received =
          exec.submit(
              () -> {
                try (SocketChannel c = server.accept()) {
                  MessageDigest md = MessageDigest.getInstance("SHA-256");
                  ByteBuffer b = ByteBuffer.allocate(1 << 16);
                  long total = 0;
                  for (int n; (n = c.read(b.clear())) >= 0; ) {
                    md.update(b.array(), 0, n);
                    total += n;
                  }
                  return total + " " + HexFormat.of().formatHex(md.digest());
                }
              });
      client.connect(new InetSocketAddress(to.address(), PORT));
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      SplittableRandom rnd = new SplittableRandom(20);
      byte[] chunk = new byte[1 << 16];
      long start = System.nanoTime();
      for (long sent = 0; sent < BYTES; sent += chunk.length) {
        for (int i = 0; i < chunk.length; i += 8) {
          long v = rnd.nextLong();
          for (int k = 0; k < 8; k++) {
            chunk[i + k] = (byte) (v >>> (8 * k));
          }
        }
        md.update(chunk);
        ByteBuffer b = ByteBuffer.wrap(chunk);
        while (b.hasRemaining()) {
          client.write(b);
        }
      }
      client.shutdownOutput();
      String expected = BYTES + " " + HexFormat.of().formatHex(md.digest());
      assertEquals(
          expected,
          received.get(LIMIT.toSeconds(), TimeUnit.SECONDS),
          from.name() + " -> " + to.name());
      System.out.printf(
          "50 MB %s -> %s in %.2f s%n", from.name(), to.name(), (System.nanoTime() - start) / 1e9);
    } finally {
      watchdog.shutdownNow();
      exec.shutdownNow();
    }
  }
}
