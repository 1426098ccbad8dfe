package org.divert4j.linux;

import java.nio.ByteBuffer;

/**
 * Which network namespace holds the other end of a link (a veth's peer), through rtnetlink on a
 * socket of the calling thread's namespace: {@code RTM_GETLINK} reports {@code IFLA_LINK_NETNSID},
 * the id this namespace gives the peer's namespace (net/core/rtnetlink.c, {@code
 * rtnl_fill_link_netnsid}; absent when the peer is in the same namespace), and {@code RTM_GETNSID}
 * with {@code NETNSA_FD} tells the id this namespace gives the namespace of a file (net/core/
 * net_namespace.c, {@code rtnl_net_getid}; {@code NETNSA_NSID_NOT_ASSIGNED}, -1, when it has none).
 * Interface indexes repeat across namespaces, so the id is what tells two namespaces that both have
 * a veth with the peer's index apart.
 *
 * <p>Message layouts from {@code include/uapi/linux/netlink.h} ({@code struct nlmsghdr}, 16 bytes),
 * {@code rtnetlink.h} ({@code struct ifinfomsg}, 16 bytes; {@code struct rtgenmsg}, 1 byte padded
 * to 4; {@code struct rtattr}: length and type, 16 bits each, 4-byte aligned), {@code if_link.h}
 * ({@code IFLA_LINK_NETNSID} = 37) and {@code net_namespace.h} ({@code NETNSA_NSID} = 1, {@code
 * NETNSA_FD} = 3). Reading needs no capability. Stateless and thread-safe.
 */
public final class LinkNetns {
  static final int RTM_NEWLINK = 16;
  static final int RTM_GETLINK = 18;
  static final int RTM_NEWNSID = 88;
  static final int RTM_GETNSID = 90;
  static final int NLMSG_ERROR = 2;
  static final int NLM_F_REQUEST = 1;
  static final int IFLA_LINK_NETNSID = 37;
  static final int NETNSA_NSID = 1;
  static final int NETNSA_FD = 3;
  private static final int NLMSG_HDRLEN = 16;

  private LinkNetns() {}

  /**
   * @param index an interface index in the calling thread's namespace
   * @return the id of the namespace that holds the other end of the link, or -1 if it is this
   *     namespace (or the link has no other end)
   * @throws ErrnoException if the request fails (ENODEV: no such interface)
   */
  public static int peerNamespaceId(int index) throws ErrnoException {
    ByteBuffer req = Native.allocate(NLMSG_HDRLEN + 16);
    header(req, RTM_GETLINK);
    req.putInt(NLMSG_HDRLEN + 4, index); // ifinfomsg: family 0 (AF_UNSPEC), pad, type, index
    ByteBuffer r = exchange(req, RTM_NEWLINK, "RTM_GETLINK " + index);
    int a = attribute(r, NLMSG_HDRLEN + 16, IFLA_LINK_NETNSID);
    return a < 0 ? -1 : r.getInt(a);
  }

  /**
   * @param nsPath a namespace file ({@code /run/netns/NAME}, {@code /proc/PID/ns/net})
   * @return the id the calling thread's namespace gives it, or -1 if none is assigned
   * @throws ErrnoException if the file cannot be opened or the request fails
   */
  public static int idOf(String nsPath) throws ErrnoException {
    int nsFd = Native.openReadOnly(nsPath);
    try {
      ByteBuffer req = Native.allocate(NLMSG_HDRLEN + 4 + 8);
      header(req, RTM_GETNSID);
      req.putShort(NLMSG_HDRLEN + 4, (short) 8); // rtattr: NETNSA_FD, a u32
      req.putShort(NLMSG_HDRLEN + 6, (short) NETNSA_FD);
      req.putInt(NLMSG_HDRLEN + 8, nsFd);
      ByteBuffer r = exchange(req, RTM_NEWNSID, "RTM_GETNSID " + nsPath);
      int a = attribute(r, NLMSG_HDRLEN + 4, NETNSA_NSID);
      return a < 0 ? -1 : r.getInt(a);
    } finally {
      Native.close(nsFd);
    }
  }

  private static void header(ByteBuffer req, int type) {
    req.putInt(0, req.capacity());
    req.putShort(4, (short) type);
    req.putShort(6, (short) NLM_F_REQUEST);
    req.putInt(8, 1); // sequence
  }

  /** Sends a request to the kernel and returns its one reply, which must be of the given type. */
  private static ByteBuffer exchange(ByteBuffer req, int replyType, String what)
      throws ErrnoException {
    int fd =
        Native.socket(
            Native.AF_NETLINK,
            Native.SOCK_RAW | Native.SOCK_CLOEXEC,
            Native.NETLINK_ROUTE,
            "netlink route");
    try {
      if (Native.send(fd, Native.address(req), req.capacity(), 0) < 0) {
        throw Native.fail("send " + what);
      }
      ByteBuffer r = Native.allocate(16384);
      long n = Native.recv(fd, Native.address(r), r.capacity(), 0);
      if (n < 0) {
        throw Native.fail("recv " + what);
      }
      if (n < NLMSG_HDRLEN) {
        throw new ErrnoException(what + ": short reply", Errors.EINVAL);
      }
      int type = r.getShort(4) & 0xffff;
      if (type == NLMSG_ERROR) {
        throw new ErrnoException(what, -r.getInt(NLMSG_HDRLEN));
      }
      if (type != replyType) {
        throw new ErrnoException(what + ": reply of type " + type, Errors.EINVAL);
      }
      r.limit((int) Math.min(n, r.getInt(0)));
      return r;
    } finally {
      Native.close(fd);
    }
  }

  /**
   * @return the offset of the payload of the first attribute of this type, from {@code from} to the
   *     reply's limit, or -1
   */
  private static int attribute(ByteBuffer r, int from, int type) {
    int p = from;
    while (p + 4 <= r.limit()) {
      int len = r.getShort(p) & 0xffff;
      if (len < 4) {
        return -1;
      }
      if ((r.getShort(p + 2) & 0x3fff) == type) { // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
        return p + 4;
      }
      p += (len + 3) & ~3;
    }
    return -1;
  }
}
