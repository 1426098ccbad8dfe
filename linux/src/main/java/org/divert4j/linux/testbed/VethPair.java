package org.divert4j.linux.testbed;

import java.io.IOException;
import java.util.List;
import java.util.Objects;

/**
 * A veth pair joining two network namespaces: a virtual cable whose ends are created directly
 * inside the namespaces (never in the caller's namespace), so interface names only need to be
 * unique within each namespace. Deleting either namespace deletes the pair.
 *
 * <p>Immutable and thread-safe; the methods that change the pair run {@code ip}, those that read it
 * use the namespace's thread ({@link Netns#link}), and all block.
 */
public final class VethPair {
  /**
   * One end of the pair.
   *
   * @param netns the namespace it is in
   * @param name its interface name there
   */
  public record End(Netns netns, String name) {
    /** Checks the components. */
    public End {
      Objects.requireNonNull(netns, "netns");
      if (name == null || name.isEmpty() || name.length() > 15) {
        throw new IllegalArgumentException("not an interface name: '" + name + "'");
      }
    }

    /**
     * Adds an address.
     *
     * @param cidr e.g. {@code 10.1.2.1/24}
     * @throws IOException if {@code ip} fails
     */
    public void addAddress(String cidr) throws IOException {
      netns.ip("addr", "add", cidr, "dev", name);
    }

    /**
     * Adds an IPv6 address without duplicate address detection ({@code nodad}), so it is usable at
     * once instead of after a second of DAD; the kernel's link-local address stays.
     *
     * @param cidr e.g. {@code fd00:1::1/64}
     * @throws IOException if {@code ip} fails
     */
    public void addAddress6(String cidr) throws IOException {
      netns.ip("-6", "addr", "add", cidr, "dev", name, "nodad");
    }

    /**
     * @return the interface's IPv6 link-local address (fe80::/64), or null if it has none (the
     *     first one if it has several); read without a process ({@link Netns#linkLocals})
     * @throws IOException if it cannot be read
     */
    public java.net.Inet6Address linkLocal() throws IOException {
      List<String> l = netns.linkLocals(name);
      if (l.isEmpty()) {
        return null;
      }
      byte[] a = new byte[16];
      for (int i = 0; i < 16; i++) {
        a[i] = (byte) Integer.parseInt(l.get(0).substring(2 * i, 2 * i + 2), 16);
      }
      return (java.net.Inet6Address) java.net.InetAddress.getByAddress(a);
    }

    /**
     * @return the interface index in its namespace, read without a process ({@link Netns#link})
     * @throws IOException if it cannot be read
     */
    public int index() throws IOException {
      return netns.link(name).index();
    }

    /**
     * @return the MAC address as 6 bytes, read without a process ({@link Netns#link})
     * @throws IOException if it cannot be read
     */
    public byte[] mac() throws IOException {
      long m = netns.link(name).mac();
      byte[] mac = new byte[6];
      for (int i = 0; i < 6; i++) {
        mac[i] = (byte) (m >>> (40 - 8 * i));
      }
      return mac;
    }

    /**
     * Sets the MTU.
     *
     * @param mtu the MTU in bytes
     * @throws IOException if {@code ip} fails
     */
    public void mtu(int mtu) throws IOException {
      netns.ip("link", "set", "dev", name, "mtu", Integer.toString(mtu));
    }
  }

  private final End a;
  private final End b;

  private VethPair(End a, End b) {
    this.a = a;
    this.b = b;
  }

  /**
   * Creates a veth pair with one end in each namespace, both with the given MTU, and brings both
   * ends up (without addresses).
   *
   * @param a the first end's namespace
   * @param nameA its interface name there
   * @param b the second end's namespace
   * @param nameB its interface name there
   * @param mtu the MTU of both ends
   * @return the pair
   * @throws IOException if {@code ip} fails
   */
  public static VethPair create(Netns a, String nameA, Netns b, String nameB, int mtu)
      throws IOException {
    End ea = new End(a, nameA);
    End eb = new End(b, nameB);
    String m = Integer.toString(mtu);
    if (a.isBrokered() || b.isBrokered()) {
      if (a.broker() != b.broker()) {
        throw new IllegalArgumentException("a veth pair joins namespaces of one broker: " + a + b);
      }
      a.broker().call("veth", a.name(), nameA, b.name(), nameB, m);
      return new VethPair(ea, eb);
    }
    if (!a.owned()) {
      // an attached namespace has no name for ip -n: make the pair from the other side
      addFrom(b, nameB, a, nameA, m);
    } else {
      addFrom(a, nameA, b, nameB, m);
    }
    return new VethPair(ea, eb);
  }

  /** Adds the pair in {@code here} with its peer moved into {@code there}, and brings both up. */
  private static void addFrom(Netns here, String nameHere, Netns there, String nameThere, String m)
      throws IOException {
    here.ipBatch(
        List.of(
            List.of(
                "link",
                "add",
                nameHere,
                "mtu",
                m,
                "type",
                "veth",
                "peer",
                "name",
                nameThere,
                "mtu",
                m,
                "netns",
                there.netnsArgument()),
            List.of("link", "set", "dev", nameHere, "up")));
    there.ip("link", "set", "dev", nameThere, "up");
  }

  /**
   * @return the first end
   */
  public End a() {
    return a;
  }

  /**
   * @return the second end
   */
  public End b() {
    return b;
  }

  @Override
  public String toString() {
    return a.netns().name() + "/" + a.name() + " <-> " + b.netns().name() + "/" + b.name();
  }
}
