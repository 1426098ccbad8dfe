package org.divert4j.tck;

import static org.divert4j.tck.Packets.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.divert4j.Capability;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertSocket;
import org.divert4j.PacketBatch;
import org.divert4j.packet.Checksums;
import org.divert4j.tck.Probe.Received;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestNode;
import org.junit.jupiter.api.Test;

/** Area N of SEMANTICS.md: segment offload (S69, S70). */
@SpecArea(id = "N", title = "Segment offload")
public class SegmentOffloadVerification extends TckVerification {
  private static final int TCP_PORT = 7100;
  private static final int MTU = 1500;
  private static final int BULK = 8 << 20;
  private static final byte XOR = 0x5A;

  /** For the JUnit engine and subclasses. */
  public SegmentOffloadVerification() {}

  /**
   * <b>S69</b>: with {@code segmentOffload} on, a TCP stream of 8 MiB from the peer to the host
   * passes a program that changes every payload byte (XOR 0x5A) of every packet it diverts; the
   * host's reader XORs back and gets the stream complete and in order. Every delivered packet
   * larger than the MTU tells a segment size between 1 and MTU - 40, and every packet up to the MTU
   * that is not a super-packet tells 0.
   *
   * <p>If it fails: super-packets are cut or truncated, the stack does not segment a changed
   * super-packet, the partial checksum of an offloaded packet is not completed after a change
   * (NFQUEUE's {@code nfqnl_mangle} makes the packet CHECKSUM_NONE), or the MTU check of S27 is
   * applied to written-back super-packets.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(
      id = "S69",
      capabilities = {Capability.SEGMENT_OFFLOAD})
  public void S69_changedSuperPacketsAreSegmentedAndTheStreamArrivesWhole(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed(hostOptions(host().segmentOffload(true).build()))) {
      List<int[]> sizes = new ArrayList<>();
      byte[] got = transfer(bed, tck, true, sizes);
      byte[] sent = pattern(BULK, 69);
      assertEquals(sent.length, got.length, "bytes received of the stream");
      assertArrayEquals(sent, got, "the stream, XORed by the program and back by the reader");
      for (int[] s : sizes) {
        if (s[0] > MTU) {
          assertTrue(
              s[1] > 0 && s[1] <= MTU - 40,
              "a " + s[0] + "-byte super-packet tells segment size " + s[1]);
        }
      }
    }
  }

  /**
   * <b>S70</b>: with {@code segmentOffload} off (the default), no delivered packet is larger than
   * the MTU: the fragments of a 4000-byte UDP datagram from the peer and of one from the host each
   * arrive at most 1500 bytes long; where the test bed has TCP, so does every packet of an 8 MiB
   * TCP stream (which the peer's stack sends as large GSO packets and the host's may coalesce), and
   * every packet tells segment size 0. The stream, XORed on the way, still arrives whole.
   *
   * <p>If it fails: the backend hands over GSO/GRO super-packets without being asked (NFQUEUE with
   * {@code NFQA_CFG_F_GSO} set by default), or the segment size is left over from another packet.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S70")
  public void S70_withoutOffloadNothingDeliveredIsLargerThanTheMtu(TckContext tck)
      throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      try (DivertSocket socket = divert(bed, PORT, "input -p udp")) {
        bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, pattern(4000, 70));
        List<Received> in =
            p.receiveExactly(socket, 3, "the fragments of 4000 bytes from the peer");
        for (Received r : in) {
          assertTrue(r.bytes().length <= MTU, "inbound packet of " + r.bytes().length + " bytes");
        }
      }
      if (noTcp(bed.peer()) != null) {
        return;
      }
      List<int[]> sizes = new ArrayList<>();
      byte[] got = transfer(bed, tck, false, sizes);
      assertArrayEquals(pattern(BULK, 69), got, "the stream, XORed and back");
      for (int[] s : sizes) {
        assertTrue(s[0] <= MTU, "a delivered TCP packet of " + s[0] + " bytes over MTU " + MTU);
        assertEquals(0, s[1], "segment size of a " + s[0] + "-byte packet");
      }
    }
  }

  private static String describe(List<int[]> sizes) {
    StringBuilder sb = new StringBuilder();
    synchronized (sizes) {
      for (int i = 0; i < Math.min(20, sizes.size()); i++) {
        sb.append(sizes.get(i)[0]).append('/').append(sizes.get(i)[1]).append(' ');
      }
    }
    return sb.toString();
  }

  /** Why a node offers no TCP, or null if it does. */
  private static String noTcp(TestNode node) throws IOException {
    try {
      node.openTcp().close();
      return null;
    } catch (UnsupportedOperationException e) {
      return e.getMessage() == null ? "" : e.getMessage();
    }
  }

  /**
   * The peer sends {@link #BULK} bytes over TCP to the host; a diverting program on the host's
   * input chain XORs every payload byte of every packet and writes it back; the host reads the
   * stream and XORs back.
   *
   * @param sizes gets {length, segmentSize} of every delivered packet
   * @return the bytes the host read
   */
  private static byte[] transfer(TestBed bed, TckContext tck, boolean offload, List<int[]> sizes)
      throws Exception {
    String noTcp = noTcp(bed.peer());
    if (noTcp != null) {
      throw new TckSkippedException(
          "S69 needs TCP in the test bed, which "
              + bed.backend()
              + "'s does not offer here"
              + (noTcp.isEmpty() ? "" : " (" + noTcp + ")"),
          null);
    }
    byte[] data = pattern(BULK, 69);
    ExecutorService pool = Executors.newFixedThreadPool(3);
    AtomicBoolean stop = new AtomicBoolean();
    try (DivertSocket socket = divert(bed, PORT, "input -p tcp --dport " + TCP_PORT);
        ServerSocketChannel server = bed.hostNode().listenTcp(TCP_PORT);
        SocketChannel client = bed.peer().openTcp()) {
      Future<?> program = pool.submit(() -> xorLoop(socket, stop, sizes));
      Future<byte[]> reader =
          pool.submit(
              () -> {
                try (SocketChannel in = server.accept()) {
                  ByteBuffer all = ByteBuffer.allocate(BULK + 1);
                  while (in.read(all) >= 0 && all.hasRemaining()) {
                    // until the peer closes
                  }
                  byte[] out = new byte[all.position()];
                  all.flip().get(out);
                  for (int i = 0; i < out.length; i++) {
                    out[i] ^= XOR;
                  }
                  return out;
                }
              });
      CompletableFuture<Void> writer =
          CompletableFuture.runAsync(
              () -> {
                try {
                  client.connect(new InetSocketAddress(bed.hostNode().address(), TCP_PORT));
                  ByteBuffer b = ByteBuffer.wrap(data);
                  while (b.hasRemaining()) {
                    client.write(b);
                  }
                  client.shutdownOutput();
                } catch (IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              },
              pool);
      long wait = Math.max(60, tck.timeout().toSeconds() * 10);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(wait);
      while (!reader.isDone() && System.nanoTime() < deadline) {
        if (program.isDone()) {
          program.get(); // the program's failure, if it stopped
        }
        if (writer.isCompletedExceptionally()) {
          writer.get();
        }
        Thread.sleep(20);
      }
      assertTrue(
          reader.isDone(),
          "the stream did not arrive within "
              + wait
              + " s; packets the program saw: "
              + sizes.size()
              + ", bytes the peer got written: "
              + writer.isDone()
              + " "
              + describe(sizes));
      byte[] got = reader.get();
      stop.set(true);
      socket.close();
      assertNull(program.get(wait, TimeUnit.SECONDS), "the diverting program");
      return got;
    } finally {
      stop.set(true);
      pool.shutdownNow();
    }
  }

  /** Receives batches, XORs every TCP payload byte, completes the checksum, writes back. */
  private static Void xorLoop(DivertSocket socket, AtomicBoolean stop, List<int[]> sizes)
      throws Exception {
    PacketBatch batch = PacketBatch.allocate(16);
    while (!stop.get()) {
      int n;
      try {
        n = socket.receive(batch, Duration.ofMillis(100));
      } catch (DivertClosedException e) {
        return null;
      }
      for (int i = 0; i < n; i++) {
        ByteBuffer b = batch.packet(i);
        int len = b.limit();
        synchronized (sizes) {
          sizes.add(new int[] {len, batch.segmentSize(i)});
        }
        int ihl = (b.get(0) & 0x0f) * 4;
        int from = ihl + ((b.get(ihl + 12) & 0xff) >>> 4) * 4;
        for (int k = from; k < len; k++) {
          b.put(k, (byte) (b.get(k) ^ XOR));
        }
        Checksums.fillTransport(b, 0);
      }
      try {
        socket.send(batch);
      } catch (DivertClosedException e) {
        return null;
      }
      for (int i = 0; i < n; i++) {
        if (batch.error(i) != null) {
          throw batch.error(i);
        }
      }
    }
    return null;
  }
}
