package org.divert4j.examples;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.divert4j.Divert;
import org.divert4j.DivertClosedException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.HostOptions;
import org.divert4j.PacketBatch;
import org.divert4j.packet.Ipv4View;

/**
 * A small packet program: drops the UDP datagrams whose payload contains a word, writes every
 * other diverted packet back. {@link #filter(PacketBatch)} is the whole decision, so a test can run
 * it on any backend; {@link #main(String[])} runs it on the host's kernel.
 *
 * <p>One instance per thread: the view it parses with is reused, so filtering allocates nothing.
 */
public final class WordFilter {
  private final byte[] word;
  private final Ipv4View ip = new Ipv4View();
  private final AtomicLong dropped = new AtomicLong();

  /**
   * @param word the word whose datagrams are dropped, in ASCII
   */
  public WordFilter(String word) {
    this.word = word.getBytes(StandardCharsets.US_ASCII);
    if (this.word.length == 0) {
      throw new IllegalArgumentException("the word is empty");
    }
  }

  /**
   * Marks the UDP datagrams of the batch that contain the word with {@link PacketBatch#drop(int)}.
   * Only first fragments are looked at (a later fragment has no UDP header).
   *
   * @param batch the packets received
   */
  public void filter(PacketBatch batch) {
    for (int i = 0; i < batch.size(); i++) {
      ByteBuffer packet = batch.packet(i);
      ip.wrap(packet);
      if (ip.protocol() == 17 && ip.fragmentOffset() == 0 && contains(packet, ip.headerLength() + 8)) {
        batch.drop(i);
        dropped.incrementAndGet();
      }
    }
  }

  /**
   * @return how many datagrams were dropped so far; any thread may read it
   */
  public long dropped() {
    return dropped.get();
  }

  private boolean contains(ByteBuffer packet, int payloadOffset) {
    int start = packet.position() + payloadOffset;
    int end = packet.limit() - word.length;
    outer:
    for (int at = start; at <= end; at++) {
      for (int k = 0; k < word.length; k++) {
        if (packet.get(at + k) != word[k]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }

  /**
   * Runs the filter on the selected backend (the kernel, as root) for UDP to one port, until
   * killed: {@code java ... org.divert4j.examples.WordFilter 5353 forbidden}.
   *
   * @param args the UDP destination port to filter, and the word
   * @throws Exception if the backend fails
   */
  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: WordFilter UDP_PORT WORD");
      System.exit(2);
    }
    WordFilter filter = new WordFilter(args[1]);
    int divertPort = 4000;
    try (DivertHost host = Divert.open(HostOptions.defaults());
        DivertSocket socket = host.bind(divertPort)) {
      host.addRule(
          DivertRule.parse("input -p udp --dport " + args[0] + " -j DIVERT " + divertPort));
      Runtime.getRuntime().addShutdownHook(new Thread(socket::close));
      PacketBatch batch = PacketBatch.allocate(64);
      try {
        while (true) {
          if (socket.receive(batch, Duration.ofSeconds(1)) > 0) {
            filter.filter(batch);
            socket.send(batch);
          }
        }
      } catch (DivertClosedException e) {
        System.err.println("stopped; dropped " + filter.dropped() + " datagrams");
      }
    }
  }
}
