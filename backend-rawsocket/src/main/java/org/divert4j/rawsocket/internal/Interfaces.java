package org.divert4j.rawsocket.internal;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.divert4j.IpPrefix;
import org.divert4j.Ipv4;
import org.divert4j.Ipv6Addresses;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;
import org.divert4j.linux.Native;

/**
 * The interfaces of one network namespace, read over rtnetlink (RTM_GETLINK and RTM_GETADDR dumps,
 * RTM_GETROUTE lookups) on a {@code NETLINK_ROUTE} socket opened inside that namespace. Lookups by
 * index (name, first address, MTU) read an immutable {@link InterfaceSnapshot} without allocating;
 * it is refreshed when older than {@link #MAX_AGE_NANOS} or when an unknown index shows up.
 *
 * <p>Thread-safe: the socket is used under this object's lock; snapshots are immutable.
 */
public final class Interfaces implements AutoCloseable {
  /** How long a snapshot is trusted. */
  public static final long MAX_AGE_NANOS = 1_000_000_000L;

  private static final int RTM_NEWLINK = 16;
  private static final int RTM_GETLINK = 18;
  private static final int RTM_NEWADDR = 20;
  private static final int RTM_GETADDR = 22;
  private static final int RTM_NEWROUTE = 24;
  private static final int RTM_GETROUTE = 26;
  private static final int IFLA_IFNAME = 3;
  private static final int IFLA_MTU = 4;
  private static final int IFA_ADDRESS = 1;
  private static final int IFA_LOCAL = 2;
  private static final int RTA_DST = 1;
  private static final int RTA_OIF = 4;
  private static final int RTA_MARK = 16;

  /** RTN_LOCAL: the route delivers to this host. */
  public static final int RTN_LOCAL = 2;

  /** What a route lookup found. */
  public record Route(int type, int outIndex) {}

  private final int fd;
  private final ByteBuffer tx = Native.allocate(512);
  private final long txAddr = Native.address(tx);
  private final ByteBuffer rx = Native.allocate(1 << 16);
  private final long rxAddr = Native.address(rx);
  private int seq;
  private volatile InterfaceSnapshot snapshot;
  private boolean closed;

  private Interfaces(int fd) {
    this.fd = fd;
  }

  /**
   * Opens an rtnetlink socket in the calling thread's network namespace.
   *
   * @return the interfaces of that namespace
   * @throws ErrnoException if the socket cannot be opened or read
   */
  public static Interfaces open() throws ErrnoException {
    int fd = Native.socket(Native.AF_NETLINK, Native.SOCK_RAW, Native.NETLINK_ROUTE, "rtnetlink");
    Interfaces i = new Interfaces(fd);
    try {
      i.refresh();
    } catch (ErrnoException | RuntimeException e) {
      i.close();
      throw e;
    }
    return i;
  }

  /**
   * @return a snapshot no older than {@link #MAX_AGE_NANOS} (refreshing it if needed; a refresh
   *     failure keeps the old one)
   */
  public InterfaceSnapshot get() {
    InterfaceSnapshot s = snapshot;
    if (System.nanoTime() - s.takenAt > MAX_AGE_NANOS) {
      try {
        s = refresh();
      } catch (ErrnoException e) {
        // keep the old view; lookups fall back to it
      }
    }
    return s;
  }

  /**
   * @param index an interface index seen in a packet
   * @return a snapshot that knows it, refreshed if the current one does not
   */
  public InterfaceSnapshot knowing(int index) {
    InterfaceSnapshot s = get();
    if (index > 0 && !s.has(index)) {
      try {
        s = refresh();
      } catch (ErrnoException e) {
        // unknown interface: lookups return empty values
      }
    }
    return s;
  }

  /**
   * Reads the interfaces now.
   *
   * @return the new snapshot
   * @throws ErrnoException if rtnetlink fails
   */
  public synchronized InterfaceSnapshot refresh() throws ErrnoException {
    TreeMap<Integer, String> names = new TreeMap<>();
    TreeMap<Integer, Integer> mtus = new TreeMap<>();
    TreeMap<Integer, int[]> first = new TreeMap<>();
    List<int[]> locals = new ArrayList<>();
    TreeMap<Integer, List<IpPrefix>> six = new TreeMap<>();
    // links
    dump(
        RTM_GETLINK,
        16,
        (b, off, len) -> {
          if (NfqCodec.messageType(b, off) != RTM_NEWLINK) {
            return;
          }
          int index = b.getInt(off + 16 + 4);
          String name = null;
          int mtu = 0;
          for (int p = off + 32; p + 4 <= off + len; ) {
            int alen = b.getShort(p) & 0xffff;
            int atype = b.getShort(p + 2) & 0x3fff;
            if (alen < 4 || p + alen > off + len) {
              break;
            }
            if (atype == IFLA_IFNAME) {
              int n = 0;
              while (n < alen - 4 && b.get(p + 4 + n) != 0) {
                n++;
              }
              byte[] bytes = new byte[n];
              b.get(p + 4, bytes);
              name = new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
            } else if (atype == IFLA_MTU && alen >= 8) {
              mtu = b.getInt(p + 4);
            }
            p += NfqCodec.align(alen);
          }
          if (name != null && index > 0) {
            names.put(index, name);
            mtus.put(index, mtu);
          }
        });
    // addresses
    dump(
        RTM_GETADDR,
        8,
        (b, off, len) -> {
          if (NfqCodec.messageType(b, off) != RTM_NEWADDR) {
            return;
          }
          int family = b.get(off + 16) & 0xff;
          if (family == Native.AF_INET6) {
            address6(b, off, len, six);
            return;
          }
          if (family != Native.AF_INET) {
            return;
          }
          int plen = b.get(off + 17) & 0xff;
          int index = b.getInt(off + 20);
          int local = 0;
          int address = 0;
          boolean haveLocal = false;
          for (int p = off + 24; p + 4 <= off + len; ) {
            int alen = b.getShort(p) & 0xffff;
            int atype = b.getShort(p + 2) & 0x3fff;
            if (alen < 4 || p + alen > off + len) {
              break;
            }
            if (alen >= 8 && atype == IFA_LOCAL) {
              local = Integer.reverseBytes(b.getInt(p + 4));
              haveLocal = true;
            } else if (alen >= 8 && atype == IFA_ADDRESS) {
              address = Integer.reverseBytes(b.getInt(p + 4));
            }
            p += NfqCodec.align(alen);
          }
          int a = haveLocal ? local : address;
          locals.add(new int[] {a, index});
          first.putIfAbsent(index, new int[] {a, plen});
        });
    int max = names.isEmpty() ? 1 : names.lastKey() + 1;
    String[] n = new String[max];
    int[] m = new int[max];
    int[] f = new int[max];
    int[] pl = new int[max];
    names.forEach((k, v) -> n[k] = v);
    mtus.forEach((k, v) -> m[k] = v);
    first.forEach(
        (k, v) -> {
          if (k < max) {
            f[k] = v[0];
            pl[k] = v[1];
          }
        });
    locals.sort((x, y) -> x[0] != y[0] ? Integer.compare(x[0], y[0]) : Integer.compare(x[1], y[1]));
    int[] l = new int[locals.size()];
    int[] li = new int[locals.size()];
    for (int i = 0; i < l.length; i++) {
      l[i] = locals.get(i)[0];
      li[i] = locals.get(i)[1];
    }
    List<List<IpPrefix>> v6 = new ArrayList<>();
    for (int i = 0; i < max; i++) {
      v6.add(six.getOrDefault(i, List.of()));
    }
    InterfaceSnapshot s = new InterfaceSnapshot(System.nanoTime(), n, m, f, pl, l, li, v6);
    snapshot = s;
    return s;
  }

  /**
   * Reads one RTM_NEWADDR of family AF_INET6 ({@code struct ifaddrmsg}: family, prefixlen, flags,
   * scope, index; then IFA_ADDRESS with the 16 address bytes; rtnetlink(7)). Tentative addresses
   * (IFA_F_TENTATIVE, DAD not done) are listed too: the test beds add theirs with nodad.
   */
  private static void address6(
      ByteBuffer b, int off, int len, TreeMap<Integer, List<IpPrefix>> six) {
    int plen = b.get(off + 17) & 0xff;
    int index = b.getInt(off + 20);
    for (int p = off + 24; p + 4 <= off + len; ) {
      int alen = b.getShort(p) & 0xffff;
      int atype = b.getShort(p + 2) & 0x3fff;
      if (alen < 4 || p + alen > off + len) {
        break;
      }
      if (alen >= 20 && atype == IFA_ADDRESS) {
        byte[] a = new byte[16];
        b.get(p + 4, a);
        six.computeIfAbsent(index, k -> new ArrayList<>())
            .add(new IpPrefix(Ipv6Addresses.fromBytes(a), plen));
        return;
      }
      p += NfqCodec.align(alen);
    }
  }

  /**
   * Asks the kernel which route an IPv6 destination takes (RTM_GETROUTE with AF_INET6), as a packet
   * with this mark would.
   *
   * @param b a buffer holding the destination
   * @param off where its 16 bytes start
   * @param oif the output interface to look up the route through (for a link-local destination), or
   *     0
   * @param mark the packet mark
   * @return the route's type (RTN_*) and output interface
   * @throws ErrnoException ENETUNREACH and the like when there is no route
   */
  public synchronized Route route6(ByteBuffer b, int off, int oif, int mark) throws ErrnoException {
    int s = ++seq;
    tx.putInt(4, 0);
    tx.putShort(4, (short) RTM_GETROUTE);
    tx.putShort(6, (short) NfqCodec.NLM_F_REQUEST);
    tx.putInt(8, s);
    tx.putInt(12, 0);
    tx.put(16, (byte) Native.AF_INET6);
    tx.put(17, (byte) 128); // dst_len
    for (int i = 18; i < 28; i++) {
      tx.put(i, (byte) 0);
    }
    int p = 28;
    tx.putShort(p, (short) 20);
    tx.putShort(p + 2, (short) RTA_DST);
    for (int i = 0; i < 16; i++) {
      tx.put(p + 4 + i, b.get(off + i));
    }
    p += 20;
    if (oif != 0) {
      tx.putShort(p, (short) 8);
      tx.putShort(p + 2, (short) RTA_OIF);
      tx.putInt(p + 4, oif);
      p += 8;
    }
    if (mark != 0) {
      tx.putShort(p, (short) 8);
      tx.putShort(p + 2, (short) RTA_MARK);
      tx.putInt(p + 4, mark);
      p += 8;
    }
    tx.putInt(0, p);
    send(p);
    return routeReply(s, "RTM_GETROUTE (IPv6)");
  }

  /**
   * Asks the kernel which route a destination takes (RTM_GETROUTE), as a packet with this mark
   * would.
   *
   * @param destination host-order address bits
   * @param mark the packet mark (policy routing may use it)
   * @return the route's type (RTN_*) and output interface
   * @throws ErrnoException ENETUNREACH, EHOSTUNREACH and the like when there is no route
   */
  public synchronized Route route(int destination, int mark) throws ErrnoException {
    int s = ++seq;
    int off = 0;
    tx.putInt(off + 4, 0);
    tx.putShort(off + 4, (short) RTM_GETROUTE);
    tx.putShort(off + 6, (short) NfqCodec.NLM_F_REQUEST);
    tx.putInt(off + 8, s);
    tx.putInt(off + 12, 0);
    // struct rtmsg
    tx.put(16, (byte) Native.AF_INET);
    tx.put(17, (byte) 32); // dst_len
    for (int i = 18; i < 28; i++) {
      tx.put(i, (byte) 0);
    }
    int p = 28;
    tx.putShort(p, (short) 8);
    tx.putShort(p + 2, (short) RTA_DST);
    tx.putInt(p + 4, Integer.reverseBytes(destination));
    p += 8;
    if (mark != 0) {
      tx.putShort(p, (short) 8);
      tx.putShort(p + 2, (short) RTA_MARK);
      tx.putInt(p + 4, mark);
      p += 8;
    }
    tx.putInt(0, p);
    send(p);
    return routeReply(s, "RTM_GETROUTE " + Ipv4.toString(destination));
  }

  private Route routeReply(int s, String what) throws ErrnoException {
    while (true) {
      int n = receive();
      for (int o = 0; o + 16 <= n; ) {
        int len = NfqCodec.messageLength(rx, o);
        if (len < 16 || o + len > n) {
          break;
        }
        int type = NfqCodec.messageType(rx, o);
        if (rx.getInt(o + 8) == s) {
          if (type == NfqCodec.NLMSG_ERROR) {
            int code = NfqCodec.errorCode(rx, o);
            throw new ErrnoException(what, -code);
          }
          if (type == RTM_NEWROUTE) {
            int rtype = rx.get(o + 16 + 7) & 0xff;
            int oif = 0;
            for (int a = o + 28; a + 4 <= o + len; ) {
              int alen = rx.getShort(a) & 0xffff;
              if (alen < 4 || a + alen > o + len) {
                break;
              }
              if ((rx.getShort(a + 2) & 0x3fff) == RTA_OIF && alen >= 8) {
                oif = rx.getInt(a + 4);
              }
              a += NfqCodec.align(alen);
            }
            return new Route(rtype, oif);
          }
        }
        o += NfqCodec.align(len);
      }
    }
  }

  private interface MessageHandler {
    void handle(ByteBuffer b, int off, int len);
  }

  private void dump(int type, int bodyLen, MessageHandler h) throws ErrnoException {
    int s = ++seq;
    int len = 16 + bodyLen;
    for (int i = 0; i < len; i++) {
      tx.put(i, (byte) 0);
    }
    tx.putInt(0, len);
    tx.putShort(4, (short) type);
    tx.putShort(6, (short) (NfqCodec.NLM_F_REQUEST | NfqCodec.NLM_F_DUMP));
    tx.putInt(8, s);
    tx.put(16, (byte) 0); // AF_UNSPEC: addresses of both families
    send(len);
    while (true) {
      int n = receive();
      for (int o = 0; o + 16 <= n; ) {
        int mlen = NfqCodec.messageLength(rx, o);
        if (mlen < 16 || o + mlen > n) {
          break;
        }
        int mtype = NfqCodec.messageType(rx, o);
        if (rx.getInt(o + 8) == s) {
          if (mtype == NfqCodec.NLMSG_DONE) {
            return;
          }
          if (mtype == NfqCodec.NLMSG_ERROR) {
            int code = NfqCodec.errorCode(rx, o);
            if (code != 0) {
              throw new ErrnoException("rtnetlink dump " + type, -code);
            }
            return;
          }
          h.handle(rx, o, mlen);
        }
        o += NfqCodec.align(mlen);
      }
    }
  }

  private void send(int len) throws ErrnoException {
    if (closed) {
      throw new ErrnoException("rtnetlink (closed)", Errors.EINVAL);
    }
    long r = Native.send(fd, txAddr, len, 0);
    if (r < 0) {
      throw new ErrnoException("rtnetlink send", Native.errno());
    }
  }

  private int receive() throws ErrnoException {
    while (true) {
      long r = Native.recv(fd, rxAddr, rx.capacity(), 0);
      if (r >= 0) {
        return (int) r;
      }
      int e = Native.errno();
      if (e != Errors.EINTR) {
        throw new ErrnoException("rtnetlink recv", e);
      }
    }
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      Native.close(fd);
    }
  }
}
