package org.divert4j.linux;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Collection;

/**
 * An interface's offload features by name, read and changed as {@code ethtool -k} and {@code
 * ethtool -K} do, through the {@code SIOCETHTOOL} ioctl on a socket of the calling thread's network
 * namespace (run it on a {@link NetnsThread} to reach another namespace). Also the two facts needed
 * to find a veth's other end: the driver name and the veth's {@code peer_ifindex} statistic.
 *
 * <p>Layouts and command numbers are those of {@code include/uapi/linux/ethtool.h}: {@code struct
 * ethtool_gfeatures} (cmd, size, then {@code size} blocks of available / requested / active /
 * never_changed, 32 features each), {@code struct ethtool_sfeatures} (cmd, size, blocks of valid /
 * requested), {@code struct ethtool_sset_info} (cmd, reserved, a 64-bit set mask, then one count
 * per set in the mask), {@code struct ethtool_gstrings} (cmd, string_set, len, then {@code len}
 * strings of {@code ETH_GSTRING_LEN} = 32 bytes), {@code struct ethtool_drvinfo} (driver name at
 * byte 4, {@code n_stats} at byte 180) and {@code struct ethtool_stats} (cmd, n_stats, then 64-bit
 * values). Feature bit {@code i} is bit {@code i % 32} of block {@code i / 32}, in the order of the
 * {@code ETH_SS_FEATURES} strings (net/ethtool/common.c, {@code netdev_features_strings}).
 *
 * <p>Reading needs no capability; changing needs CAP_NET_ADMIN in the interface's namespace (EPERM
 * otherwise). Stateless and thread-safe: every call opens and closes its own socket.
 */
public final class Ethtool {
  static final int ETHTOOL_GDRVINFO = 0x03;
  static final int ETHTOOL_GSTRINGS = 0x1b;
  static final int ETHTOOL_GSTATS = 0x1d;
  static final int ETHTOOL_GSSET_INFO = 0x37;
  static final int ETHTOOL_GFEATURES = 0x3a;
  static final int ETHTOOL_SFEATURES = 0x3b;
  static final int ETH_SS_STATS = 1;
  static final int ETH_SS_FEATURES = 4;
  static final int ETH_GSTRING_LEN = 32;

  /** {@code netdevice(7)}: the name of the interface with {@code ifr_ifindex}. */
  static final long SIOCGIFNAME = 0x8910;

  private static final int IFREQ_SIZE = 40;
  private static final int DRVINFO_SIZE = 196;

  private Ethtool() {}

  /**
   * One interface's features as the kernel reported them. Immutable.
   *
   * @param device the interface name
   * @param names the feature names, indexed by feature bit
   * @param changeable for each bit: the driver lets it be changed ({@code available})
   * @param requested for each bit: what was asked for ({@code requested}, ethtool's "wanted")
   * @param active for each bit: what is on now
   */
  public record Features(
      String device, String[] names, boolean[] changeable, boolean[] requested, boolean[] active) {
    /**
     * @param name a feature name, e.g. {@code tx-tcp-segmentation}
     * @return its bit, or -1 if this kernel has no such feature
     */
    public int bit(String name) {
      for (int i = 0; i < names.length; i++) {
        if (names[i].equals(name)) {
          return i;
        }
      }
      return -1;
    }

    /**
     * @param name a feature name
     * @return true if it is on now
     */
    public boolean isActive(String name) {
      int b = bit(name);
      return b >= 0 && active[b];
    }
  }

  /**
   * Reads an interface's features ({@code ethtool -k}).
   *
   * @param device the interface
   * @return its features
   * @throws ErrnoException if an ioctl fails (ENODEV: no such interface in this namespace)
   */
  public static Features features(String device) throws ErrnoException {
    String[] names = strings(device, ETH_SS_FEATURES);
    int blocks = (names.length + 31) / 32;
    ByteBuffer g = Native.allocate(8 + 16 * blocks);
    g.putInt(0, ETHTOOL_GFEATURES);
    g.putInt(4, blocks);
    ethtool(device, g, "ETHTOOL_GFEATURES");
    boolean[] changeable = new boolean[names.length];
    boolean[] requested = new boolean[names.length];
    boolean[] active = new boolean[names.length];
    for (int i = 0; i < names.length; i++) {
      int block = 8 + 16 * (i / 32);
      int mask = 1 << (i % 32);
      changeable[i] = (g.getInt(block) & mask) != 0;
      requested[i] = (g.getInt(block + 4) & mask) != 0;
      active[i] = (g.getInt(block + 8) & mask) != 0;
    }
    return new Features(device, names, changeable, requested, active);
  }

  /**
   * Requests features on or off ({@code ethtool -K device name on|off ...}) in one {@code
   * ETHTOOL_SFEATURES} call. The kernel may refuse or adjust a request (a feature that depends on
   * another, net/core/dev.c {@code netdev_fix_features}); read {@link #features} again to see the
   * result.
   *
   * @param device the interface
   * @param names the features to change; names this kernel does not know are ignored
   * @param on true to request them on, false off
   * @throws ErrnoException if an ioctl fails (EPERM without CAP_NET_ADMIN)
   */
  public static void request(String device, Collection<String> names, boolean on)
      throws ErrnoException {
    Features f = features(device);
    int blocks = (f.names().length + 31) / 32;
    ByteBuffer s = Native.allocate(8 + 8 * blocks);
    s.putInt(0, ETHTOOL_SFEATURES);
    s.putInt(4, blocks);
    for (String n : names) {
      int b = f.bit(n);
      if (b < 0) {
        continue;
      }
      int block = 8 + 8 * (b / 32);
      int mask = 1 << (b % 32);
      s.putInt(block, s.getInt(block) | mask);
      if (on) {
        s.putInt(block + 4, s.getInt(block + 4) | mask);
      }
    }
    ethtool(device, s, "ETHTOOL_SFEATURES");
  }

  /**
   * @param device the interface
   * @return its driver's name ({@code ethtool -i}), e.g. {@code veth}, or "" if the device has no
   *     driver information (EOPNOTSUPP, as {@code lo})
   * @throws ErrnoException if the ioctl fails otherwise
   */
  public static String driver(String device) throws ErrnoException {
    ByteBuffer d = Native.allocate(DRVINFO_SIZE);
    d.putInt(0, ETHTOOL_GDRVINFO);
    try {
      ethtool(device, d, "ETHTOOL_GDRVINFO");
    } catch (ErrnoException e) {
      if (e.errno() == Errors.EOPNOTSUPP) {
        return "";
      }
      throw e;
    }
    return cString(d, 4, 32);
  }

  /**
   * The index of a veth's other end, from the veth driver's {@code peer_ifindex} statistic
   * (drivers/net/veth.c, {@code veth_get_ethtool_stats}). The index is that of the peer's own
   * namespace, which may not be the caller's.
   *
   * @param device the interface
   * @return the peer's index, or 0 if the interface is not a veth or has no peer
   * @throws ErrnoException if an ioctl fails
   */
  public static int vethPeerIndex(String device) throws ErrnoException {
    if (!driver(device).equals("veth")) {
      return 0;
    }
    String[] names = strings(device, ETH_SS_STATS);
    ByteBuffer st = Native.allocate(8 + 8 * names.length);
    st.putInt(0, ETHTOOL_GSTATS);
    st.putInt(4, names.length);
    ethtool(device, st, "ETHTOOL_GSTATS");
    for (int i = 0; i < names.length; i++) {
      if (names[i].equals("peer_ifindex")) {
        return (int) st.getLong(8 + 8 * i);
      }
    }
    return 0;
  }

  /**
   * @param index an interface index
   * @return the name of the interface with that index in the calling thread's namespace, or null if
   *     there is none
   * @throws ErrnoException if the socket cannot be made, or the ioctl fails otherwise than with
   *     ENODEV
   */
  public static String nameOf(int index) throws ErrnoException {
    ByteBuffer ifr = Native.allocate(IFREQ_SIZE);
    ifr.putInt(16, index);
    int fd = Native.socket(Native.AF_INET, Native.SOCK_DGRAM, 0, "AF_INET, for SIOCGIFNAME");
    try {
      if (Native.ioctl(fd, SIOCGIFNAME, Native.address(ifr)) < 0) {
        int errno = Native.errno();
        if (errno == Errors.ENODEV) {
          return null;
        }
        throw new ErrnoException("SIOCGIFNAME " + index, errno);
      }
      return cString(ifr, 0, 16);
    } finally {
      Native.close(fd);
    }
  }

  private static String[] strings(String device, int set) throws ErrnoException {
    ByteBuffer info = Native.allocate(20);
    info.putInt(0, ETHTOOL_GSSET_INFO);
    info.putLong(8, 1L << set);
    ethtool(device, info, "ETHTOOL_GSSET_INFO");
    if ((info.getLong(8) & (1L << set)) == 0) {
      return new String[0]; // the driver has no such set (no statistics, say)
    }
    int n = info.getInt(16);
    ByteBuffer s = Native.allocate(12 + ETH_GSTRING_LEN * n);
    s.putInt(0, ETHTOOL_GSTRINGS);
    s.putInt(4, set);
    s.putInt(8, n);
    ethtool(device, s, "ETHTOOL_GSTRINGS");
    String[] out = new String[n];
    for (int i = 0; i < n; i++) {
      out[i] = cString(s, 12 + ETH_GSTRING_LEN * i, ETH_GSTRING_LEN);
    }
    return out;
  }

  private static void ethtool(String device, ByteBuffer data, String what) throws ErrnoException {
    byte[] n = device.getBytes(StandardCharsets.US_ASCII);
    if (n.length == 0 || n.length > 15) {
      throw new IllegalArgumentException("not an interface name: '" + device + "'");
    }
    ByteBuffer ifr = Native.allocate(IFREQ_SIZE);
    ifr.put(0, n);
    ifr.putLong(16, Native.address(data)); // ifr_data
    int fd = Native.socket(Native.AF_INET, Native.SOCK_DGRAM, 0, "AF_INET, for ethtool");
    try {
      if (Native.ioctl(fd, NetDevices.SIOCETHTOOL, Native.address(ifr)) < 0) {
        throw new ErrnoException(what + " on " + device, Native.errno());
      }
    } finally {
      Native.close(fd);
    }
  }

  private static String cString(ByteBuffer b, int offset, int max) {
    int len = 0;
    while (len < max && b.get(offset + len) != 0) {
      len++;
    }
    byte[] out = new byte[len];
    b.get(offset, out);
    return new String(out, StandardCharsets.US_ASCII);
  }
}
