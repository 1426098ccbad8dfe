package org.divert4j.impair;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.InstalledRule;
import org.divert4j.PacketBatch;

/** Builds and starts an {@link Impairer}: {@link Impairer#builder}. Not thread-safe. */
public final class ImpairerBuilder {
  final DivertHost host;
  final int port;
  final List<DivertRule> rules = new ArrayList<>();
  final List<Impairment> impairments = new ArrayList<>();
  long seed;
  ImpairClock clock = ImpairClock.SYSTEM;
  int capacity = 4096;
  int maxPacket = 2048;
  int batchSize = 64;

  ImpairerBuilder(DivertHost host, int port) {
    this.host = Objects.requireNonNull(host, "host");
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port must be 1..65535: " + port);
    }
    this.port = port;
  }

  /**
   * Adds a rule and what to do to the packets it diverts (its chain sets the direction).
   *
   * @param rule a rule that diverts to the builder's port
   * @param impairment what to do
   * @return this builder
   */
  public ImpairerBuilder rule(DivertRule rule, Impairment impairment) {
    if (rule.port() != port) {
      throw new IllegalArgumentException(
          "rule '" + rule + "' diverts to port " + rule.port() + ", not " + port);
    }
    rules.add(rule);
    impairments.add(Objects.requireNonNull(impairment, "impairment"));
    return this;
  }

  /**
   * @param seed the seed of every random decision (default 0)
   * @return this builder
   */
  public ImpairerBuilder seed(long seed) {
    this.seed = seed;
    return this;
  }

  /**
   * @param clock where time comes from (default {@link ImpairClock#SYSTEM})
   * @return this builder
   */
  public ImpairerBuilder clock(ImpairClock clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
    return this;
  }

  /**
   * @param packets how many packets may be held at once (default 4096); beyond that packets are
   *     dropped and counted in {@link ImpairStats#overflowed()}
   * @return this builder
   */
  public ImpairerBuilder capacity(int packets) {
    if (packets < 1 || packets > 1 << 20) {
      throw new IllegalArgumentException("capacity must be 1..1048576: " + packets);
    }
    this.capacity = packets;
    return this;
  }

  /**
   * @param bytes the largest packet that can be held (default 2048); larger ones that should wait
   *     are written back at once and counted in {@link ImpairStats#oversize()}
   * @return this builder
   */
  public ImpairerBuilder maxPacket(int bytes) {
    if (bytes < 20 || bytes > PacketBatch.MAX_PACKET) {
      throw new IllegalArgumentException("max packet must be 20..65535: " + bytes);
    }
    this.maxPacket = bytes;
    return this;
  }

  /**
   * @param packets packets received per call, 1..1024 (default 64)
   * @return this builder
   */
  public ImpairerBuilder batchSize(int packets) {
    if (packets < 1 || packets > 1024) {
      throw new IllegalArgumentException("batch size must be 1..1024: " + packets);
    }
    this.batchSize = packets;
    return this;
  }

  /**
   * Adds the rules to the host, binds the port and returns the impairer, ready to {@link
   * Impairer#run()}. On failure, rules added so far are removed.
   *
   * @return the impairer
   * @throws IllegalStateException if no rule was given
   * @throws DivertException if a rule cannot be added or the port bound
   */
  public Impairer start() throws DivertException {
    if (rules.isEmpty()) {
      throw new IllegalStateException("no rule: add at least one with rule(...)");
    }
    List<InstalledRule> added = new ArrayList<>();
    DivertSocket socket = null;
    try {
      for (DivertRule r : rules) {
        added.add(host.addRule(r));
      }
      socket = host.bind(port);
      return new Impairer(this, socket, List.copyOf(added));
    } catch (DivertException | RuntimeException e) {
      if (socket != null) {
        socket.close();
      }
      for (InstalledRule r : added) {
        try {
          r.remove();
        } catch (DivertException | RuntimeException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw e;
    }
  }
}
