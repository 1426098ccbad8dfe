package org.divert4j.linux;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Network interfaces by name through the classic ioctls ({@code netdevice(7)}, {@code
 * linux/ethtool.h}) on a socket of the calling thread's network namespace (sysfs would show the
 * namespace it was mounted in, not the thread's). Built on {@link Native}. Stateless and
 * thread-safe; every call opens and closes its own socket.
 */
public final class NetDevices {
  public static final long SIOCGIFFLAGS = 0x8913;
  public static final long SIOCSIFFLAGS = 0x8914;
  public static final long SIOCGIFINDEX = 0x8933;
  public static final long SIOCGIFMTU = 0x8921;
  public static final long SIOCGIFHWADDR = 0x8927;
  public static final long SIOCETHTOOL = 0x8946;

  /** {@code ethtool.h}: set TX checksumming, TSO, GSO, GRO. */
  public static final int ETHTOOL_STXCSUM = 0x17;

  public static final int ETHTOOL_STSO = 0x1f;
  public static final int ETHTOOL_SGSO = 0x24;
  public static final int ETHTOOL_SGRO = 0x2c;

  /** {@code IFF_UP} of {@code ifr_flags} (include/uapi/linux/if.h). */
  private static final int IFF_UP = 0x1;

  /** {@code sizeof(struct ifreq)}: the name (16 bytes) and a union (24). */
  private static final int IFREQ_SIZE = 40;

  private NetDevices() {}

  /**
   * What a backend needs to know about one interface.
   *
   * @param name the interface name
   * @param index its index
   * @param mtu its MTU
   * @param mac its hardware address, the 6 bytes in the low 48 bits
   */
  public record Link(String name, int index, int mtu, long mac) {}

  /**
   * Reads an interface's index, MTU and MAC address.
   *
   * @param name the interface name
   * @return what was read
   * @throws ErrnoException if the socket cannot be made or an ioctl fails (ENODEV: no interface of
   *     that name in this namespace)
   */
  public static Link link(String name) throws ErrnoException {
    ByteBuffer ifr = ifreq(name);
    int fd = Native.socket(Native.AF_INET, Native.SOCK_DGRAM, 0, "AF_INET, for ioctls");
    try {
      int index = ioctl(fd, SIOCGIFINDEX, ifr, name).getInt(16);
      int mtu = ioctl(fd, SIOCGIFMTU, ifr, name).getInt(16);
      ByteBuffer hw = ioctl(fd, SIOCGIFHWADDR, ifr, name); // a sockaddr: family, then the bytes
      long mac = 0;
      for (int i = 0; i < 6; i++) {
        mac = (mac << 8) | (hw.get(18 + i) & 0xff);
      }
      return new Link(name, index, mtu, mac);
    } finally {
      Native.close(fd);
    }
  }

  /**
   * Brings an interface up ({@code ip link set NAME up}): reads its flags and sets them again with
   * IFF_UP ({@code SIOCGIFFLAGS}, {@code SIOCSIFFLAGS}: {@code dev_ifsioc} calls {@code
   * dev_change_flags}, as rtnetlink's {@code do_setlink} does). Needs CAP_NET_ADMIN.
   *
   * @param name the interface name
   * @throws ErrnoException if the socket cannot be made or an ioctl fails (ENODEV: no such
   *     interface in this namespace; EPERM without CAP_NET_ADMIN)
   */
  public static void up(String name) throws ErrnoException {
    ByteBuffer ifr = ifreq(name);
    int fd = Native.socket(Native.AF_INET, Native.SOCK_DGRAM, 0, "AF_INET, for ioctls");
    try {
      short flags = ioctl(fd, SIOCGIFFLAGS, ifr, name).getShort(16); // ifr_flags
      ifr.putShort(16, (short) (flags | IFF_UP));
      ioctl(fd, SIOCSIFFLAGS, ifr, name);
    } finally {
      Native.close(fd);
    }
  }

  /**
   * Turns an ethtool feature off ({@code ethtool -K name feature off}) through the legacy ioctl.
   *
   * @param name the interface
   * @param command one of the {@code ETHTOOL_S*} constants
   * @throws ErrnoException if the socket cannot be made or the ioctl fails
   */
  public static void ethtoolOff(String name, int command) throws ErrnoException {
    ByteBuffer ifr = ifreq(name);
    ByteBuffer value = Native.allocate(8); // struct ethtool_value {cmd, data}
    value.putInt(0, command);
    value.putInt(4, 0);
    ifr.putLong(16, Native.address(value)); // ifr_data
    int fd = Native.socket(Native.AF_INET, Native.SOCK_DGRAM, 0, "AF_INET, for ethtool");
    try {
      if (Native.ioctl(fd, SIOCETHTOOL, Native.address(ifr)) < 0) {
        throw Native.fail("ethtool 0x" + Integer.toHexString(command) + " on " + name);
      }
    } finally {
      Native.close(fd);
    }
  }

  private static ByteBuffer ifreq(String name) {
    byte[] n = name.getBytes(StandardCharsets.US_ASCII);
    if (n.length == 0 || n.length > 15) {
      throw new IllegalArgumentException("not an interface name: '" + name + "'");
    }
    ByteBuffer ifr = Native.allocate(IFREQ_SIZE);
    ifr.put(0, n);
    return ifr;
  }

  private static ByteBuffer ioctl(int fd, long request, ByteBuffer ifr, String name)
      throws ErrnoException {
    if (Native.ioctl(fd, request, Native.address(ifr)) < 0) {
      int errno = Native.errno();
      String call = "ioctl 0x" + Long.toHexString(request) + " on interface " + name;
      if (errno == Errors.ENODEV) {
        call += " (no interface named " + name + " in this network namespace)";
      }
      throw new ErrnoException(call, errno);
    }
    return ifr;
  }
}
