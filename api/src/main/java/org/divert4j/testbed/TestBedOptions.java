package org.divert4j.testbed;

import java.util.Objects;
import org.divert4j.HostOptions;

/**
 * How to build a test bed: the options of the host under diversion, the MTU of each link, and
 * whether a far peer (for forwarding) is wanted, and whether the host's buffers should be scarce
 * for a burst ({@link TestBed#scarceBuffers}). Immutable; build with {@link #builder()}.
 */
public final class TestBedOptions {
  private final HostOptions host;
  private final int peerMtu;
  private final int farPeerMtu;
  private final boolean farPeer;
  private final int burstPackets;
  private final int burstSize;

  private TestBedOptions(Builder b) {
    this.host = b.host;
    this.peerMtu = b.peerMtu;
    this.farPeerMtu = b.farPeerMtu;
    this.farPeer = b.farPeer;
    this.burstPackets = b.burstPackets;
    this.burstSize = b.burstSize;
  }

  /**
   * @return a builder with default host options, MTU 1500 on both links, no far peer
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * @return the defaults
   */
  public static TestBedOptions defaults() {
    return builder().build();
  }

  /**
   * @return options for the host under diversion
   */
  public HostOptions host() {
    return host;
  }

  /**
   * @return the MTU of the link between the peer and the host (both ends)
   */
  public int peerMtu() {
    return peerMtu;
  }

  /**
   * @return the MTU of the link between the host and the far peer (both ends)
   */
  public int farPeerMtu() {
    return farPeerMtu;
  }

  /**
   * @return true if the test bed has a far peer beyond the host, with forwarding on
   */
  public boolean farPeer() {
    return farPeer;
  }

  /**
   * @return the burst the host's buffers must not hold, in datagrams; 0 if the buffers are the host
   *     options' own
   */
  public int burstPackets() {
    return burstPackets;
  }

  /**
   * @return the size of each datagram of that burst, bytes; 0 if none
   */
  public int burstSize() {
    return burstSize;
  }

  /**
   * @return a builder holding these options
   */
  public Builder toBuilder() {
    Builder b = builder().host(host).peerMtu(peerMtu).farPeerMtu(farPeerMtu).farPeer(farPeer);
    b.burstPackets = burstPackets;
    b.burstSize = burstSize;
    return b;
  }

  @Override
  public String toString() {
    return "host["
        + host
        + "] peerMtu="
        + peerMtu
        + " farPeerMtu="
        + farPeerMtu
        + " farPeer="
        + farPeer
        + (burstPackets == 0 ? "" : " scarceBuffers=" + burstPackets + "x" + burstSize);
  }

  /** Builds {@link TestBedOptions}. Not thread-safe. */
  public static final class Builder {
    private HostOptions host = HostOptions.defaults();
    private int peerMtu = 1500;
    private int farPeerMtu = 1500;
    private boolean farPeer;
    private int burstPackets;
    private int burstSize;

    private Builder() {}

    /**
     * @param host options for the host under diversion
     * @return this builder
     */
    public Builder host(HostOptions host) {
      this.host = Objects.requireNonNull(host, "host");
      return this;
    }

    /**
     * @param mtu MTU of the peer link, 576..65535
     * @return this builder
     */
    public Builder peerMtu(int mtu) {
      this.peerMtu = checkMtu(mtu);
      return this;
    }

    /**
     * @param mtu MTU of the far-peer link, 576..65535
     * @return this builder
     */
    public Builder farPeerMtu(int mtu) {
      this.farPeerMtu = checkMtu(mtu);
      return this;
    }

    /**
     * @param farPeer true for a far peer beyond the host, with forwarding on
     * @return this builder
     */
    public Builder farPeer(boolean farPeer) {
      this.farPeer = farPeer;
      return this;
    }

    /**
     * Asks the test bed to open its host with buffers that cannot hold a burst of {@code packets}
     * datagrams of {@code size} bytes ({@link TestBed#scarceBuffers}), on top of {@link #host}.
     *
     * @param packets the burst, at least 4 datagrams
     * @param size each datagram's size, 1..65535 bytes
     * @return this builder
     * @throws IllegalArgumentException if either is out of range
     */
    public Builder scarceBuffers(int packets, int size) {
      if (packets < 4 || size < 1 || size > 65535) {
        throw new IllegalArgumentException(
            "scarceBuffers: a burst of at least 4 datagrams of 1..65535 bytes, not "
                + packets
                + " x "
                + size);
      }
      this.burstPackets = packets;
      this.burstSize = size;
      return this;
    }

    /**
     * @return the options
     */
    public TestBedOptions build() {
      return new TestBedOptions(this);
    }

    private static int checkMtu(int mtu) {
      if (mtu < 576 || mtu > 65535) {
        throw new IllegalArgumentException("test bed MTU must be 576..65535: " + mtu);
      }
      return mtu;
    }
  }
}
