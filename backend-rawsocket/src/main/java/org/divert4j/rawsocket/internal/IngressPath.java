package org.divert4j.rawsocket.internal;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import org.divert4j.DivertException;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.Shell;

/**
 * The way a host's sockets inject a packet into the receive path of a named interface (S33 exact,
 * {@code EXACT_INBOUND_INTERFACE}): a veth pair of the host's own in its namespace, whose receiving
 * end redirects each frame to the ingress of the interface its source MAC names.
 *
 * <pre>
 *   AF_PACKET send on S (source MAC 02:00 + target ifindex, destination MAC = R's)
 *     -> veth -> R: eth_type_trans sets pkt_type PACKET_HOST (the frame is for R)
 *     -> R's clsact ingress, u32 "match ether src 02:00:..." -> mirred ingress redirect dev T
 *     -> netif_receive_skb with skb->dev = T -> ip_rcv: PREROUTING with in = T, routing, input
 *        or forward, the local stack
 * </pre>
 *
 * <p>Why the destination MAC must be R's own: act_mirred's ingress redirect hands the skb to {@code
 * netif_receive_skb} as it is (net/sched/act_mirred.c, {@code tcf_mirred_to_dev} and {@code
 * tcf_mirred_forward}); it does not run {@code eth_type_trans} again for the target. A frame
 * addressed to T's MAC was classified {@code PACKET_OTHERHOST} on R, and {@code ip_rcv_core}
 * (net/ipv4/ip_input.c) drops such packets before PREROUTING; {@code netif_receive_skb} then
 * returns {@code NET_RX_DROP}, which {@code tcf_mirred_to_dev} counts as an overlimit of the
 * action. Addressed to R, the frame is {@code PACKET_HOST} and T's stack takes it. veth keeps the
 * packet mark within a namespace ({@code skb_scrub_packet} clears it only across namespaces) and
 * mirred does not touch it, so the injecting socket's mark reaches the rules (S45).
 *
 * <p>Both ends have MTU 65535 and IPv6 off; the target's MTU is not checked on ingress (S53). The
 * pair is made at the first exact injection ({@code ip} and {@code tc}, run in the namespace with
 * nsenter), one filter per target interface as it is first named; closing the host deletes the pair
 * and with it the filters. The sending end carries the alias {@code divert4j:<host>:<pid>:inject},
 * so that a pair whose process died is deleted by the next host opened in the namespace or by
 * {@code divert rules cleanup} (S51). Thread-safe.
 */
final class IngressPath {
  /** The first two bytes of the source MAC of an injected frame; the other four are the target. */
  static final int MAC_PREFIX = 0x0200;

  private static final String ALIAS_PREFIX = "divert4j:";
  private static final String ALIAS_WHAT = "inject";

  /** The preference of the filter that drops frames naming no target (after all targets'). */
  private static final int DROP_PREF = 65000;

  private final NetnsThread ns;
  private final String host;
  private final String sendName;
  private final String receiveName;
  private final BitSet targets = new BitSet(); // ifindexes with a filter
  private int filters;
  private FrameSender sender;
  private boolean made;
  private boolean closed;

  /**
   * @param ns the host's namespace thread
   * @param host the host's name (the owner in the alias)
   * @param number a number unique among this process's hosts
   */
  IngressPath(NetnsThread ns, String host, int number) {
    this.ns = ns;
    this.host = host;
    String stem = "d4j" + Long.toHexString(RuleOwners.PID) + "-" + Integer.toHexString(number);
    if (stem.length() > 14) {
      stem = stem.substring(stem.length() - 14);
    }
    this.sendName = stem + "s";
    this.receiveName = stem + "r";
  }

  /**
   * Injects a packet into the receive path of an interface.
   *
   * @param packet holds the packet from index 0
   * @param len its length, at most 65535
   * @param target the interface to arrive on
   * @param targetName its name
   * @param mark the packet mark
   * @return 0 on success, else the errno of the send
   * @throws DivertException if the pair or the target's filter cannot be made
   */
  int send(ByteBuffer packet, int len, int target, String targetName, int mark)
      throws DivertException {
    return prepare(target, targetName).send(packet, len, target, mark);
  }

  /** Makes the pair if needed and the filter for a target interface. */
  private synchronized FrameSender prepare(int target, String targetName) throws DivertException {
    if (closed) {
      throw new DivertException("the divert host is closed");
    }
    try {
      if (!made) {
        make();
      }
      if (!targets.get(target)) {
        if (filters + 1 >= DROP_PREF) {
          throw new IOException("more than " + (DROP_PREF - 1) + " target interfaces");
        }
        tc(
            "filter",
            "add",
            "dev",
            receiveName,
            "ingress",
            "pref",
            Integer.toString(filters + 1),
            "protocol",
            "all", // IPv4 and IPv6 frames (the match is on the source MAC only)
            "u32",
            "match",
            "ether",
            "src",
            mac(MAC_PREFIX, target),
            "action",
            "mirred",
            "ingress",
            "redirect",
            "dev",
            targetName);
        targets.set(target);
        filters++;
      }
    } catch (IOException e) {
      throw new DivertException(
          "cannot prepare inbound injection on "
              + targetName
              + " (veth pair "
              + sendName
              + "/"
              + receiveName
              + " with a tc ingress redirect): "
              + e.getMessage(),
          0,
          e);
    }
    return sender;
  }

  private void make() throws IOException {
    try {
      build();
    } catch (IOException | RuntimeException e) {
      if (made) {
        made = false;
        try {
          ip("link", "del", "dev", sendName);
        } catch (IOException again) {
          e.addSuppressed(again);
        }
      }
      throw e;
    }
  }

  private void build() throws IOException {
    String alias = ALIAS_PREFIX + host + ":" + RuleOwners.PID + ":" + ALIAS_WHAT;
    ip("link", "add", sendName, "mtu", "65535", "type", "veth", "peer", "name", receiveName);
    made = true;
    ip("link", "set", "dev", sendName, "alias", alias);
    for (String dev : List.of(sendName, receiveName)) {
      disableIpv6(dev);
    }
    ip("link", "set", "dev", receiveName, "mtu", "65535", "up");
    ip("link", "set", "dev", sendName, "up");
    tc("qdisc", "add", "dev", receiveName, "clsact");
    // after the targets' filters (preferences 1..n): drop whatever names no target, so that no
    // frame is taken by the stack as arriving on the pair itself. A classic BPF program "ret #2"
    // (TC_ACT_SHOT) in direct-action mode: this kernel lacks act_gact, cls_bpf takes classic
    // bytecode with TCA_BPF_FLAG_ACT_DIRECT (net/sched/cls_bpf.c, cls_bpf_set_parms)
    tc(
        "filter",
        "add",
        "dev",
        receiveName,
        "ingress",
        "pref",
        Integer.toString(DROP_PREF),
        "protocol",
        "all",
        "bpf",
        "da",
        "bytecode",
        "1,6 0 0 2");
    int sendIndex = index(sendName);
    byte[] receiveMac = macOf(receiveName);
    try {
      sender = ns.call(() -> FrameSender.open(sendIndex, receiveMac));
    } catch (DivertException e) {
      throw new IOException("cannot open an AF_PACKET socket on " + sendName + ": " + e, e);
    }
  }

  /** No router solicitations or DAD from the pair (/proc/sys/net is the thread's namespace's). */
  private void disableIpv6(String dev) throws IOException {
    Path p = Path.of("/proc/sys/net/ipv6/conf", dev, "disable_ipv6");
    ns.run(
        () -> {
          if (Files.exists(p)) {
            try (OutputStream out = Files.newOutputStream(p)) {
              out.write("1\n".getBytes(StandardCharsets.US_ASCII));
            }
          }
          return null;
        });
  }

  private int index(String dev) throws IOException {
    String line = ip("-o", "link", "show", "dev", dev).trim();
    return Integer.parseInt(line.substring(0, line.indexOf(':')));
  }

  private byte[] macOf(String dev) throws IOException {
    String line = ip("-o", "link", "show", "dev", dev);
    int at = line.indexOf("link/ether ");
    if (at < 0) {
      throw new IOException("no MAC address in: " + line);
    }
    String[] hex = line.substring(at + 11, at + 28).split(":");
    byte[] mac = new byte[6];
    for (int i = 0; i < 6; i++) {
      mac[i] = (byte) Integer.parseInt(hex[i], 16);
    }
    return mac;
  }

  static String mac(int prefix, int index) {
    return String.format(
        "%02x:%02x:%02x:%02x:%02x:%02x",
        prefix >>> 8 & 0xff,
        prefix & 0xff,
        index >>> 24 & 0xff,
        index >>> 16 & 0xff,
        index >>> 8 & 0xff,
        index & 0xff);
  }

  private String ip(String... args) throws IOException {
    return run(ns.nsPath(), "ip", args);
  }

  private String tc(String... args) throws IOException {
    return run(ns.nsPath(), "tc", args);
  }

  private static String run(String nsPath, String program, String... args) throws IOException {
    List<String> cmd = new ArrayList<>(args.length + 1);
    cmd.add(Shell.which(program).map(Path::toString).orElse(program));
    cmd.addAll(List.of(args));
    return Shell.check(null, Shell.DEFAULT_TIMEOUT, Shell.inNetns(nsPath, cmd));
  }

  /** Deletes the pair (and its filters); idempotent. */
  synchronized void close() {
    closed = true;
    if (sender != null) {
      sender.close();
    }
    if (!made) {
      return;
    }
    made = false;
    try {
      ip("link", "del", "dev", sendName);
    } catch (IOException e) {
      // the next host opened in the namespace, or divert rules cleanup, deletes it (dead owner)
    }
  }

  /**
   * Deletes the injection pairs whose owners are dead (S51).
   *
   * @param nsPath the namespace
   * @return a description of each pair deleted
   */
  static List<String> removeDead(String nsPath) {
    return removeDead(nsPath, false);
  }

  /**
   * Finds, and unless {@code dryRun} deletes, the injection pairs whose owners are dead (S51).
   *
   * @param nsPath the namespace
   * @param dryRun only list them
   * @return a description of each pair (to be) deleted
   */
  static List<String> removeDead(String nsPath, boolean dryRun) {
    List<String> removed = new ArrayList<>();
    if (Shell.which("ip").isEmpty()) {
      return removed;
    }
    String out;
    try {
      out = run(nsPath, "ip", "-o", "link", "show");
    } catch (IOException e) {
      return removed;
    }
    for (String line : out.split("\n")) {
      int a = line.indexOf("alias " + ALIAS_PREFIX);
      if (a < 0) {
        continue;
      }
      String[] o = RuleOwners.owner(line.substring(a + 6).split("[\\s\\\\]", 2)[0]);
      if (o == null || !o[3].equals(ALIAS_WHAT)) {
        continue;
      }
      long pid;
      try {
        pid = Long.parseLong(o[2]);
      } catch (NumberFormatException e) {
        continue;
      }
      if (RuleOwners.alive(o[1], pid)) {
        continue;
      }
      String[] f = line.split(":", 3);
      if (f.length < 3) {
        continue;
      }
      String dev = f[1].trim();
      int peer = dev.indexOf('@');
      if (peer > 0) {
        dev = dev.substring(0, peer);
      }
      try {
        if (!dryRun) {
          run(nsPath, "ip", "link", "del", "dev", dev);
        }
        removed.add(
            "inbound injection pair " + dev + " of host " + o[1] + " (pid " + pid + ", dead)");
      } catch (IOException e) {
        // deleted with its peer a moment ago
      }
    }
    return removed;
  }
}
