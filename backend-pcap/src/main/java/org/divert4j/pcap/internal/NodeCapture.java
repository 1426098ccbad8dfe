package org.divert4j.pcap.internal;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.divert4j.DivertException;
import org.divert4j.testbed.PacketCapture;

/**
 * A test node's capture: a live pcap capture of the IPv4 packets arriving on its interface ({@code
 * PCAP_D_IN}, BPF filter {@code ip}), each stored as the IP packet alone (link header and Ethernet
 * padding removed), in arrival order. Thread-safe.
 */
final class NodeCapture implements PacketCapture {
  private final CaptureHandle handle;
  private final LinkLayer l2;
  private final List<byte[]> packets = new ArrayList<>();
  private final Thread reader;
  private final Runnable onClose;
  private volatile boolean open = true;

  private NodeCapture(CaptureHandle handle, String what, Runnable onClose) {
    this.handle = handle;
    this.l2 = new LinkLayer(handle.linkType());
    this.onClose = onClose;
    this.reader = new Thread(this::read, "d4j-pcap-testcapture-" + what);
    reader.setDaemon(true);
    reader.start();
  }

  /**
   * Starts capturing on an interface, from a thread in its namespace; returns once the capture is
   * active (packets arriving after this call are captured).
   *
   * @param ns a thread in the node's namespace
   * @param device the interface
   * @param what a name for the thread
   * @param onClose run when the capture closes
   * @return the capture
   * @throws Exception if it cannot be opened
   */
  static NodeCapture open(NetnsThread ns, String device, String what, Runnable onClose)
      throws Exception {
    CaptureHandle h = ns.call(() -> Pcap.openLive(device, 4 << 20, "ip"));
    if (!LinkLayer.supported(h.linkType())) {
      h.close();
      throw new DivertException("cannot capture IPv4 on link type " + h.linkType());
    }
    return new NodeCapture(h, what, onClose);
  }

  private void read() {
    byte[] frame = new byte[CaptureHandle.MAX_FRAME];
    ByteBuffer b = ByteBuffer.wrap(frame);
    try {
      while (open) {
        int rc;
        try {
          rc = handle.next();
        } catch (java.io.IOException e) {
          return;
        }
        if (rc == CaptureHandle.END) {
          return;
        }
        if (rc != CaptureHandle.PACKET) {
          continue;
        }
        int len = Math.min(handle.length(), frame.length);
        handle.copyTo(frame, 0, len);
        int ip = l2.ipv4Offset(b, 0, len);
        if (ip < 0) {
          continue;
        }
        int total = b.getShort(ip + 2) & 0xffff;
        int n = total >= 20 && total <= len - ip ? total : len - ip;
        byte[] p = new byte[n];
        System.arraycopy(frame, ip, p, 0, n);
        synchronized (packets) {
          packets.add(p);
          packets.notifyAll();
        }
      }
    } finally {
      handle.close();
    }
  }

  @Override
  public List<byte[]> packets() {
    synchronized (packets) {
      List<byte[]> copy = new ArrayList<>(packets.size());
      for (byte[] p : packets) {
        copy.add(p.clone());
      }
      return copy;
    }
  }

  @Override
  public List<byte[]> await(Predicate<byte[]> filter, int count, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (packets) {
      while (true) {
        List<byte[]> match = new ArrayList<>();
        for (byte[] p : packets) {
          if (filter.test(p)) {
            match.add(p.clone());
          }
        }
        long left = deadline - System.nanoTime();
        if (match.size() >= count || left <= 0 || !open) {
          return match;
        }
        packets.wait(Math.max(1, left / 1_000_000));
      }
    }
  }

  @Override
  public void close() {
    if (!open) {
      return;
    }
    open = false;
    handle.breakLoop();
    try {
      reader.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    synchronized (packets) {
      packets.notifyAll();
    }
    onClose.run();
  }
}
