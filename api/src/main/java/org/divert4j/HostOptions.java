package org.divert4j;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * How a host is opened: the seed's compile-time options as run-time choices, and the limits of the
 * sockets on it. Immutable and thread-safe; build with {@link #builder()}.
 *
 * <p>Backend-specific settings go in {@link #properties()}, named {@code <backend>.<setting>} (for
 * example {@code rawsocket.netns}); each backend documents its own.
 */
public final class HostOptions {
  /** Default {@link #queueLength()}: the Linux NFQUEUE default. */
  public static final int DEFAULT_QUEUE_LENGTH = 1024;

  /** Default {@link #reassemblyTimeout()}: Linux {@code ipfrag_time}. */
  public static final Duration DEFAULT_REASSEMBLY_TIMEOUT = Duration.ofSeconds(30);

  /** Default {@link #reassemblyMemory()}: Linux {@code ipfrag_high_thresh}, 4 MiB. */
  public static final long DEFAULT_REASSEMBLY_MEMORY = 4L << 20;

  /** Default {@link #holdTimeout()}: WinDivert's default queue time. */
  public static final Duration DEFAULT_HOLD_TIMEOUT = Duration.ofSeconds(2);

  private static final HostOptions DEFAULTS = builder().build();

  private final NoListenerPolicy noListener;
  private final FragmentMode fragments;
  private final int queueLength;
  private final boolean failOpen;
  private final Duration reassemblyTimeout;
  private final long reassemblyMemory;
  private final Duration holdTimeout;
  private final int parallelism;
  private final boolean segmentOffload;
  private final Map<String, String> properties;

  private HostOptions(Builder b) {
    this.noListener = b.noListener;
    this.fragments = b.fragments;
    this.queueLength = b.queueLength;
    this.failOpen = b.failOpen;
    this.reassemblyTimeout = b.reassemblyTimeout;
    this.reassemblyMemory = b.reassemblyMemory;
    this.holdTimeout = b.holdTimeout;
    this.parallelism = b.parallelism;
    this.segmentOffload = b.segmentOffload;
    this.properties = Map.copyOf(b.properties);
  }

  /**
   * @return the defaults: DROP, PER_FRAGMENT, queue 1024, fail-closed, 30 s and 4 MiB for
   *     reassembly, 2 s hold time, one queue, no segment offload
   */
  public static HostOptions defaults() {
    return DEFAULTS;
  }

  /**
   * @return a builder starting from the defaults
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * @return a builder starting from these options
   */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.noListener = noListener;
    b.fragments = fragments;
    b.queueLength = queueLength;
    b.failOpen = failOpen;
    b.reassemblyTimeout = reassemblyTimeout;
    b.reassemblyMemory = reassemblyMemory;
    b.holdTimeout = holdTimeout;
    b.parallelism = parallelism;
    b.segmentOffload = segmentOffload;
    b.properties.putAll(properties);
    return b;
  }

  /**
   * @return what a DIVERT rule does when its port has no socket (S11, S12)
   */
  public NoListenerPolicy noListener() {
    return noListener;
  }

  /**
   * @return how fragments are diverted (sections D and E)
   */
  public FragmentMode fragments() {
    return fragments;
  }

  /**
   * @return how many packets one socket holds at most: those waiting to be received plus those
   *     received and not yet written back or dropped (S15). Further packets are dropped and
   *     counted, or accepted when {@link #failOpen()}.
   */
  public int queueLength() {
    return queueLength;
  }

  /**
   * @return true if packets that find a socket's queue full continue as if not diverted, instead of
   *     being dropped (S15)
   */
  public boolean failOpen() {
    return failOpen;
  }

  /**
   * Segment offload (SEMANTICS.md section N, S69, S70; {@link Capability#SEGMENT_OFFLOAD}).
   *
   * <p>When on, a socket may receive TCP and UDP <b>super-packets</b>: packets the stack coalesced
   * on receive (GRO) or will cut into segments on send (GSO), up to 65535 bytes and larger than the
   * interface MTU. {@link PacketBatch#segmentSize(int)} tells the size of the segments such a
   * packet stands for. Written back, changed or not, a super-packet is segmented by the stack; the
   * MTU check of S27 does not apply to it. A super-packet may carry a transport checksum the stack
   * has not completed yet (checksum offload): if the program changes the packet, the backend
   * completes the TCP or UDP checksum on write-back, as the stack would have. When off (the
   * default), no delivered packet is larger than its interface MTU except reassembled datagrams
   * (S70).
   *
   * <p>On the kernel backend this sets {@code NFQA_CFG_F_GSO} on each queue, which saves the kernel
   * from segmenting every GSO packet before queueing it: bulk TCP runs several times faster. A
   * backend without the capability ignores the option.
   *
   * @return true if super-packets may be delivered
   */
  public boolean segmentOffload() {
    return segmentOffload;
  }

  /**
   * @return how long an incomplete datagram waits for its missing fragments in ALWAYS_DEFRAGMENT
   *     mode before it is discarded (S24)
   */
  public Duration reassemblyTimeout() {
    return reassemblyTimeout;
  }

  /**
   * @return how many bytes of fragments reassembly may hold; datagrams beyond it are discarded and
   *     counted (S24)
   */
  public long reassemblyMemory() {
    return reassemblyMemory;
  }

  /**
   * @return how long a received packet is held for the program to write back or drop; after that it
   *     is dropped and counted as {@link DropReason#HOLD_EXPIRED}. Zero holds until the socket
   *     closes.
   */
  public Duration holdTimeout() {
    return holdTimeout;
  }

  /**
   * @return how many queues (and reader threads) a port is spread over; flows and fragments of one
   *     datagram stay on one queue. Needs {@link Capability#PARALLELISM} above 1.
   */
  public int parallelism() {
    return parallelism;
  }

  /**
   * @return backend-specific settings, named {@code <backend>.<setting>}; unmodifiable
   */
  public Map<String, String> properties() {
    return properties;
  }

  /**
   * @param name a property name
   * @param fallback returned when the property is not set
   * @return the property's value or the fallback
   */
  public String property(String name, String fallback) {
    return properties.getOrDefault(name, fallback);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof HostOptions h
        && noListener == h.noListener
        && fragments == h.fragments
        && queueLength == h.queueLength
        && failOpen == h.failOpen
        && reassemblyTimeout.equals(h.reassemblyTimeout)
        && reassemblyMemory == h.reassemblyMemory
        && holdTimeout.equals(h.holdTimeout)
        && parallelism == h.parallelism
        && segmentOffload == h.segmentOffload
        && properties.equals(h.properties);
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        noListener,
        fragments,
        queueLength,
        failOpen,
        reassemblyTimeout,
        reassemblyMemory,
        holdTimeout,
        parallelism,
        segmentOffload,
        properties);
  }

  @Override
  public String toString() {
    return "noListener="
        + noListener
        + " fragments="
        + fragments
        + " queueLength="
        + queueLength
        + " failOpen="
        + failOpen
        + " reassemblyTimeout="
        + reassemblyTimeout
        + " reassemblyMemory="
        + reassemblyMemory
        + " holdTimeout="
        + holdTimeout
        + " parallelism="
        + parallelism
        + (segmentOffload ? " segmentOffload" : "")
        + (properties.isEmpty() ? "" : " " + new TreeMap<>(properties));
  }

  /** Builds {@link HostOptions}; each setter checks its value. Not thread-safe. */
  public static final class Builder {
    private NoListenerPolicy noListener = NoListenerPolicy.DROP;
    private FragmentMode fragments = FragmentMode.PER_FRAGMENT;
    private int queueLength = DEFAULT_QUEUE_LENGTH;
    private boolean failOpen;
    private Duration reassemblyTimeout = DEFAULT_REASSEMBLY_TIMEOUT;
    private long reassemblyMemory = DEFAULT_REASSEMBLY_MEMORY;
    private Duration holdTimeout = DEFAULT_HOLD_TIMEOUT;
    private int parallelism = 1;
    private boolean segmentOffload;
    private final Map<String, String> properties = new TreeMap<>();

    private Builder() {}

    /**
     * @param policy DROP (default) or PASS_THROUGH
     * @return this builder
     */
    public Builder noListener(NoListenerPolicy policy) {
      this.noListener = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /**
     * @param mode PER_FRAGMENT (default) or ALWAYS_DEFRAGMENT
     * @return this builder
     */
    public Builder fragments(FragmentMode mode) {
      this.fragments = Objects.requireNonNull(mode, "mode");
      return this;
    }

    /**
     * @param length 1..65535 packets per socket
     * @return this builder
     */
    public Builder queueLength(int length) {
      if (length < 1 || length > 65535) {
        throw new IllegalArgumentException("queue length must be 1..65535: " + length);
      }
      this.queueLength = length;
      return this;
    }

    /**
     * @param failOpen true to accept packets that find the queue full instead of dropping them
     * @return this builder
     */
    public Builder failOpen(boolean failOpen) {
      this.failOpen = failOpen;
      return this;
    }

    /**
     * @param on true to let the backend deliver super-packets (see {@link
     *     HostOptions#segmentOffload()}); default false
     * @return this builder
     */
    public Builder segmentOffload(boolean on) {
      this.segmentOffload = on;
      return this;
    }

    /**
     * @param timeout positive reassembly timeout
     * @return this builder
     */
    public Builder reassemblyTimeout(Duration timeout) {
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("reassembly timeout must be positive: " + timeout);
      }
      this.reassemblyTimeout = timeout;
      return this;
    }

    /**
     * @param bytes reassembly memory bound, at least 65535 bytes (one datagram)
     * @return this builder
     */
    public Builder reassemblyMemory(long bytes) {
      if (bytes < 65535) {
        throw new IllegalArgumentException(
            "reassembly memory must be at least 65535 bytes: " + bytes);
      }
      this.reassemblyMemory = bytes;
      return this;
    }

    /**
     * @param timeout how long received packets are held; zero holds until close
     * @return this builder
     */
    public Builder holdTimeout(Duration timeout) {
      if (timeout.isNegative()) {
        throw new IllegalArgumentException("hold timeout must not be negative: " + timeout);
      }
      this.holdTimeout = timeout;
      return this;
    }

    /**
     * @param queues 1..64 queues per port
     * @return this builder
     */
    public Builder parallelism(int queues) {
      if (queues < 1 || queues > 64) {
        throw new IllegalArgumentException("parallelism must be 1..64: " + queues);
      }
      this.parallelism = queues;
      return this;
    }

    /**
     * @param name a backend-specific setting, {@code <backend>.<setting>}
     * @param value its value
     * @return this builder
     */
    public Builder property(String name, String value) {
      properties.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
      return this;
    }

    /**
     * @return the options
     */
    public HostOptions build() {
      return new HostOptions(this);
    }
  }
}
