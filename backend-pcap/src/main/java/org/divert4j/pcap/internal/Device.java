package org.divert4j.pcap.internal;

import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import org.divert4j.Capability;
import org.divert4j.HostOptions;
import org.divert4j.stack.DivertEngine;
import org.divert4j.stack.StackEnvironment;

/**
 * What a pcap host runs on: the shared user-space stack ({@link DivertEngine}) over packets that
 * libpcap captures (an inline segment) or reads (a savefile replay). A device outlives the host
 * handles opened on it only in a test bed, where closing the host must leave the segment carrying
 * traffic (S51); a host opened by {@code PcapProvider.open} owns its device and closes it.
 *
 * <p>Thread-safe: all packet processing runs in the engine's exclusive section, a reentrant lock.
 */
public abstract class Device implements StackEnvironment, AutoCloseable {
  /**
   * What pcap hosts can do beyond the required rules; see docs/backends.md for the others. The same
   * set as {@code PcapProvider.capabilities()} (which does not name this class, so that it loads
   * without pcap4j): the engine holds every packet in user space, so locally generated packets of
   * 65532 to 65535 bytes reach the output chain whole (S8).
   */
  public static final Set<Capability> CAPABILITIES =
      java.util.Collections.unmodifiableSet(
          java.util.EnumSet.of(
              Capability.EXACT_INBOUND_INTERFACE,
              Capability.WHOLE_LOCAL_OUTPUT,
              Capability.IPV6,
              Capability.INTACT_ATOMIC_FRAGMENTS,
              Capability.TRUNCATED_CHAINS_CONTINUE,
              Capability.IPV6_REASSEMBLY_COUNTERS,
              Capability.PACKET_META,
              Capability.SNIFF,
              Capability.FLOW_COUNT));

  private static final int SPINS = 200;

  private final ReentrantLock lock = new ReentrantLock();
  final String name;
  final HostOptions options;
  DivertEngine engine;

  Device(String name, HostOptions options) {
    this.name = name;
    this.options = options;
  }

  /** Creates the engine; call once the interfaces are known. */
  final void startEngine() {
    engine = new DivertEngine(PcapBackend.NAME, name, CAPABILITIES, options, this);
  }

  /**
   * Opens a host handle on this device.
   *
   * @param o the handle's options
   * @param ownsDevice true if closing the host closes the device
   * @return the host
   */
  public final PcapHost openHost(HostOptions o, boolean ownsDevice) {
    return new PcapHost(this, engine.openHost(o), ownsDevice);
  }

  /** A socket was bound on a host of this device. */
  void bound() {}

  /**
   * @return the replay this device runs, or null for an inline segment
   */
  Replay replay() {
    return null;
  }

  /**
   * @return true if the calling thread is inside the engine's section
   */
  final boolean isHeldByCurrentThread() {
    return lock.isHeldByCurrentThread();
  }

  /**
   * Enters the section, spinning briefly before parking: sections last about a microsecond, and
   * parking a thread (a futex wait and a wake-up) costs far more than that, so with the replay or
   * capture threads and a program's thread taking turns per packet, a short spin keeps both
   * running.
   */
  @Override
  public final void enter() {
    if (lock.tryLock()) {
      return;
    }
    for (int i = 0; i < SPINS; i++) {
      Thread.onSpinWait();
      if (lock.tryLock()) {
        return;
      }
    }
    lock.lock();
  }

  @Override
  public final void exit() {
    lock.unlock();
  }

  @Override
  public long nanoTime() {
    return System.nanoTime();
  }

  /** Stops the device's threads and releases its handles. Idempotent; never throws. */
  @Override
  public abstract void close();
}
