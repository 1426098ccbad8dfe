package org.divert4j.pcap.internal;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.divert4j.Capability;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.HostOptions;
import org.divert4j.HostStats;
import org.divert4j.InstalledRule;
import org.divert4j.NetInterface;

/**
 * A pcap divert host: a handle on the engine of a {@link Device}, which also starts a replay on the
 * first bind and, when it owns the device, stops it on close. Everything else is the engine's.
 * Thread-safe.
 */
public final class PcapHost implements DivertHost {
  /**
   * Sockets know the engine's handle, not this wrapper: the way back from {@code socket.host()}.
   */
  private static final Map<DivertHost, PcapHost> BY_HANDLE =
      Collections.synchronizedMap(new IdentityHashMap<>());

  private final Device device;
  private final DivertHost handle;
  private final boolean ownsDevice;

  PcapHost(Device device, DivertHost handle, boolean ownsDevice) {
    this.device = device;
    this.handle = handle;
    this.ownsDevice = ownsDevice;
    BY_HANDLE.put(handle, this);
  }

  /**
   * @return the replay of a savefile host, or null for an inline host
   */
  Replay replay() {
    return device.replay();
  }

  /**
   * @param host a host
   * @return its replay, if it is a pcap savefile host
   */
  public static Replay replayOf(DivertHost host) {
    PcapHost p = host instanceof PcapHost ph ? ph : BY_HANDLE.get(host);
    return p == null ? null : p.replay();
  }

  @Override
  public String backend() {
    return handle.backend();
  }

  @Override
  public String name() {
    return handle.name();
  }

  @Override
  public HostOptions options() {
    return handle.options();
  }

  @Override
  public Set<Capability> capabilities() {
    return handle.capabilities();
  }

  @Override
  public List<NetInterface> interfaces() throws DivertException {
    return handle.interfaces();
  }

  @Override
  public InstalledRule addRule(DivertRule rule) throws DivertException {
    return handle.addRule(rule);
  }

  @Override
  public InstalledRule insertRule(int index, DivertRule rule) throws DivertException {
    return handle.insertRule(index, rule);
  }

  @Override
  public List<InstalledRule> rules() {
    return handle.rules();
  }

  @Override
  public DivertSocket bind(int port) throws DivertException {
    DivertSocket s = handle.bind(port);
    device.bound();
    return s;
  }

  @Override
  public HostStats stats() {
    return handle.stats();
  }

  @Override
  public org.divert4j.TimestampClock timestampClock() {
    return handle.timestampClock();
  }

  @Override
  public boolean isOpen() {
    return handle.isOpen();
  }

  @Override
  public void close() throws DivertException {
    try {
      handle.close();
    } finally {
      BY_HANDLE.remove(handle);
      if (ownsDevice) {
        device.close();
      }
    }
  }

  @Override
  public String toString() {
    return handle + " on " + device;
  }
}
