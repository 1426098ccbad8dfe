package org.divert4j.pcap.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.divert4j.DivertException;
import org.divert4j.PermissionException;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Ethtool;
import org.divert4j.linux.LinkNetns;
import org.divert4j.linux.NetnsThread;

/**
 * The offload features that break an inline segment, found and dealt with when it opens ({@code
 * pcap.offloads}), and restored when it closes.
 *
 * <p>What breaks it: a frame the capture sees must be a frame that can be sent again as it is. Two
 * kinds of offload hand the capture something else:
 *
 * <ul>
 *   <li>On a capture interface, receive aggregation ({@code rx-gro}, {@code rx-lro}, {@code
 *       rx-gro-hw}, {@code rx-gro-list}, {@code rx-udp-gro-forwarding}): the packet tap runs after
 *       GRO ({@code __netif_receive_skb}), so the capture sees super-frames larger than the MTU.
 *   <li>On the sender of a virtual link, the veth at the other end of a capture interface, transmit
 *       checksum offload ({@code tx-checksum-*}), and with it segmentation offload: a veth hands
 *       the skb to its peer as it is ({@code veth_xmit}), so the capture sees TCP segments with a
 *       partial checksum ({@code CHECKSUM_PARTIAL}, only the pseudo-header sum) and super-packets
 *       of up to 64 KB; sent again with {@code pcap_inject}, the first are dropped by the receiver
 *       for a bad checksum and the second do not fit the wire. Turning the checksum features off is
 *       enough: TSO depends on them (net/core/dev.c {@code netdev_fix_features} turns it off with
 *       them), and a device that cannot checksum a packet gets no GSO packet either ({@code
 *       harmonize_features} clears the GSO features, so {@code validate_xmit_skb} segments and
 *       checksums in software before the driver). A physical NIC's own senders are remote machines,
 *       whose frames arrive whole.
 * </ul>
 *
 * The segment's own transmit offloads do not matter: frames written to a packet socket leave with
 * no checksum or segmentation work pending ({@code packet_snd}).
 *
 * <p>A veth's peer is found by its index ({@link Ethtool#vethPeerIndex}) and its namespace's id
 * ({@link LinkNetns}) among the segment's namespace, the JVM's, and the named namespaces of {@code
 * ip netns} ({@code /run/netns}); a peer found in none (a container's unnamed namespace) cannot be
 * checked, and the open fails in either mode saying so. Modes: {@code disable} turns what it found
 * off, records it first in the {@link OffloadLedger}, and turns it back on at {@link #restore};
 * {@code refuse} fails with one line naming each interface, its features and the {@code ethtool -K}
 * command that turns them off.
 *
 * <p>Not offered: completing partial checksums and segmenting super-frames in user space. A partial
 * checksum cannot be told from a corrupt one in what libpcap returns: the kernel says so in {@code
 * TP_STATUS_CSUMNOTREADY} of the ring frame's status (or {@code PACKET_AUXDATA}), which libpcap
 * does not pass on ({@code struct pcap_pkthdr} has only the time and two lengths).
 *
 * <p>Not thread-safe; one per segment, used by the thread that opens and closes it.
 */
final class Offloads {
  /** What {@code pcap.offloads} asks for. */
  enum Mode {
    /** Turn the offending features off for the segment's lifetime (default). */
    DISABLE,
    /** Fail the open, naming each feature and the command that turns it off. */
    REFUSE
  }

  private static final Path NETNS_DIR = Path.of("/var/run/netns");

  /**
   * An interface to check.
   *
   * @param nsPath its namespace file, or null for the JVM's
   * @param nsInode the namespace's inode
   * @param device its name there
   * @param index its index there
   * @param role what it is to the segment, for messages (e.g. "outside", "the veth peer of out0")
   * @param receive true to check receive aggregation (a capture interface), false to check transmit
   *     offloads (a veth peer)
   */
  record Target(
      String nsPath, String nsInode, String device, int index, String role, boolean receive) {}

  private final OffloadLedger ledger;
  private final List<OffloadLedger.Entry> changed;

  private Offloads(OffloadLedger ledger, List<OffloadLedger.Entry> changed) {
    this.ledger = ledger;
    this.changed = changed;
  }

  /**
   * @param name a feature name from {@code ETH_SS_FEATURES}
   * @return true if it aggregates received frames
   */
  static boolean receiveAggregation(String name) {
    return name.equals("rx-gro")
        || name.equals("rx-lro")
        || name.equals("rx-gro-hw")
        || name.equals("rx-gro-list")
        || name.equals("rx-udp-gro-forwarding");
  }

  /**
   * @param name a feature name from {@code ETH_SS_FEATURES}
   * @return true if it leaves checksumming to the device ({@code tx-checksum-ipv4}, {@code
   *     -ip-generic}, {@code -ipv6}, {@code -sctp}, {@code -fcoe-crc})
   */
  static boolean transmitChecksum(String name) {
    return name.startsWith("tx-checksum-");
  }

  /**
   * Checks the segment's interfaces and their veth peers, first restoring what dead hosts turned
   * off, then disabling or refusing as the mode says.
   *
   * @param mode the mode
   * @param nsPath the segment's namespace file, or null for the JVM's
   * @param outside the outside interface
   * @param inside the inside interface
   * @param dir the ledger's directory
   * @return what was changed, to {@link #restore} at close
   * @throws PermissionException if changing features or entering a namespace is not permitted
   * @throws DivertException if the mode is refuse and something offends, a veth peer cannot be
   *     found, or a feature cannot be turned off
   */
  static Offloads apply(Mode mode, String nsPath, String outside, String inside, Path dir)
      throws DivertException {
    OffloadLedger ledger = new OffloadLedger(dir);
    try {
      return ledger.locked(() -> applyLocked(ledger, mode, nsPath, outside, inside));
    } catch (DivertException e) {
      throw e;
    } catch (Exception e) {
      throw new DivertException(
          "cannot check the offload features of " + outside + " and " + inside + ": " + e,
          DivertException.NO_ERRNO,
          e);
    }
  }

  private static Offloads applyLocked(
      OffloadLedger ledger, Mode mode, String nsPath, String outside, String inside)
      throws Exception {
    ledger.restoreDead();
    Map<Target, List<String>> found = new LinkedHashMap<>();
    List<String> unreachable = new ArrayList<>();
    try (NetnsThread t = NetnsThread.start(nsPath, "offloads")) {
      for (String dev : List.of(outside, inside)) {
        String role = dev.equals(outside) ? "outside" : "inside";
        int[] idx = new int[2];
        List<String> rx =
            t.run(
                () -> {
                  idx[0] = org.divert4j.linux.NetDevices.link(dev).index();
                  idx[1] = Ethtool.vethPeerIndex(dev);
                  return offending(Ethtool.features(dev), true);
                });
        Target me = new Target(nsPath, t.inode(), dev, idx[0], role, true);
        if (!rx.isEmpty()) {
          found.put(me, rx);
        }
        if (idx[1] > 0) {
          Target peer = findPeer(t, nsPath, dev, idx[0], idx[1]);
          if (peer == null) {
            unreachable.add(dev);
            continue;
          }
          List<String> tx =
              onThread(peer.nsPath(), () -> offending(Ethtool.features(peer.device()), false));
          if (!tx.isEmpty()) {
            found.put(peer, tx);
          }
        }
      }
    } catch (ErrnoException e) {
      throw failure(e);
    }
    if (!unreachable.isEmpty()) {
      throw new DivertException(
          "pcap.offloads: cannot find the other end of veth "
              + String.join(" and ", unreachable)
              + " (not in the segment's namespace, the JVM's, or one of /run/netns), so its"
              + " checksum and segmentation offloads cannot be checked; move it into a named"
              + " namespace, or turn them off there (ethtool -K PEER tx off tso off gso off) and"
              + " give its namespace a name with ip netns attach");
    }
    if (found.isEmpty()) {
      return new Offloads(ledger, List.of());
    }
    if (mode == Mode.REFUSE) {
      throw new DivertException(refusal(found));
    }
    List<OffloadLedger.Entry> changed = new ArrayList<>();
    long[] self = OffloadLedger.self();
    Offloads result = new Offloads(ledger, changed);
    try {
      for (Map.Entry<Target, List<String>> e : found.entrySet()) {
        Target t = e.getKey();
        List<String> features = e.getValue();
        OffloadLedger.Entry entry =
            new OffloadLedger.Entry(
                t.nsPath() == null ? "" : t.nsPath(),
                t.nsInode(),
                t.device(),
                t.index(),
                features,
                self[0],
                self[1]);
        ledger.write(entry); // before the change: a crash in between restores what was on
        changed.add(entry);
        List<String> left =
            onThread(
                t.nsPath(),
                () -> {
                  Ethtool.request(t.device(), features, false);
                  return offending(Ethtool.features(t.device()), t.receive());
                });
        if (!left.isEmpty()) {
          throw new DivertException(
              "pcap.offloads=disable: "
                  + describe(t)
                  + " keeps "
                  + String.join(" ", left)
                  + " on (the driver does not let them change); the segment would see frames"
                  + " it cannot send again");
        }
      }
    } catch (ErrnoException e) {
      result.restoreLocked();
      throw failure(e);
    } catch (Exception e) {
      result.restoreLocked();
      throw e;
    }
    return result;
  }

  /**
   * @return the one-line refusal: each interface, its features, and the command that fixes it
   */
  static String refusal(Map<Target, List<String>> found) {
    StringBuilder sb =
        new StringBuilder(
            "pcap.offloads=refuse: offloads would hand the capture frames it cannot send again"
                + " (partial checksums, frames larger than the MTU) and break TCP across the"
                + " segment:");
    String sep = " ";
    for (Map.Entry<Target, List<String>> e : found.entrySet()) {
      sb.append(sep).append(describe(e.getKey())).append(" has ");
      sb.append(String.join(" ", e.getValue())).append(" on, fix: ");
      sb.append(command(e.getKey(), e.getValue()));
      sep = "; ";
    }
    return sb.append("; or set pcap.offloads=disable").toString();
  }

  private static String describe(Target t) {
    return t.device()
        + " ("
        + t.role()
        + (t.nsPath() == null ? "" : ", in " + nsName(t.nsPath()))
        + ")";
  }

  /**
   * @return the command that turns the features off, entering the namespace as its path allows
   */
  static String command(Target t, List<String> features) {
    StringBuilder sb = new StringBuilder();
    if (t.nsPath() != null) {
      Path p = Path.of(t.nsPath());
      if (p.getParent() != null
          && (p.getParent().equals(NETNS_DIR) || p.getParent().equals(Path.of("/run/netns")))) {
        sb.append("ip netns exec ").append(p.getFileName()).append(' ');
      } else {
        sb.append("nsenter --net=").append(t.nsPath()).append(' ');
      }
    }
    sb.append("ethtool -K ").append(t.device());
    for (String f : features) {
      sb.append(' ').append(f).append(" off");
    }
    return sb.toString();
  }

  private static String nsName(String path) {
    Path p = Path.of(path);
    return p.getParent() != null && p.getParent().endsWith("netns")
        ? "namespace " + p.getFileName()
        : path;
  }

  private static List<String> offending(Ethtool.Features f, boolean receive) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < f.names().length; i++) {
      String n = f.names()[i];
      if (f.active()[i] && (receive ? receiveAggregation(n) : transmitChecksum(n))) {
        out.add(n);
      }
    }
    return out;
  }

  /**
   * Finds a veth's other end: the namespace is the one the segment's namespace knows by the link's
   * {@code IFLA_LINK_NETNSID} ({@link LinkNetns}), looked for among the candidates (indexes repeat
   * across namespaces, ids do not); there, the interface with {@code peerIndex} must be a veth
   * whose own peer index is {@code index}.
   *
   * @param t a thread in the segment's namespace
   * @return the peer, or null if no candidate namespace has it
   */
  private static Target findPeer(NetnsThread t, String nsPath, String dev, int index, int peerIndex)
      throws IOException {
    int nsid = t.run(() -> LinkNetns.peerNamespaceId(index));
    List<String> candidates = new ArrayList<>();
    if (nsid < 0) {
      candidates.add(nsPath); // the peer is in the segment's own namespace
    } else {
      if (nsPath != null) {
        candidates.add("/proc/self/ns/net"); // the JVM's
      }
      if (Files.isDirectory(NETNS_DIR)) {
        try (Stream<Path> s = Files.list(NETNS_DIR)) {
          s.sorted().forEach(p -> candidates.add(p.toString()));
        }
      }
    }
    for (String c : candidates) {
      try {
        if (nsid >= 0 && t.run(() -> LinkNetns.idOf(c)) != nsid) {
          continue;
        }
        String path = "/proc/self/ns/net".equals(c) ? null : c;
        try (NetnsThread there = NetnsThread.open(path, "offloads-peer")) {
          String name =
              there.run(
                  () -> {
                    String n = Ethtool.nameOf(peerIndex);
                    return n != null && Ethtool.vethPeerIndex(n) == index ? n : null;
                  });
          if (name != null) {
            return new Target(
                path, there.inode(), name, peerIndex, "the veth peer of " + dev, false);
          }
        }
      } catch (IOException e) {
        // a namespace that went away while listing, or cannot be entered: not this one
      }
    }
    return null;
  }

  private static <T> T onThread(String nsPath, NetnsThread.Task<T, IOException> task)
      throws IOException {
    try (NetnsThread t = NetnsThread.open(nsPath, "offloads")) {
      return t.run(task);
    }
  }

  private static DivertException failure(ErrnoException e) {
    if (e.isPermission()) {
      return new PermissionException(
          "pcap.offloads: " + e.getMessage(),
          List.of("CAP_NET_ADMIN", "CAP_SYS_ADMIN"),
          e.errno(),
          e);
    }
    return new DivertException("pcap.offloads: " + e.getMessage(), e.errno(), e);
  }

  /**
   * @return the entries this segment recorded and changed
   */
  List<OffloadLedger.Entry> changed() {
    return List.copyOf(changed);
  }

  /**
   * Turns back on what {@link #apply} turned off and removes its entries. Idempotent; never throws
   * (an entry that cannot be restored now is left for the next open).
   */
  void restore() {
    if (changed.isEmpty()) {
      return;
    }
    try {
      ledger.locked(
          () -> {
            restoreLocked();
            return null;
          });
    } catch (Exception e) {
      // left in the ledger: the next open restores it
    }
  }

  private void restoreLocked() {
    for (OffloadLedger.Entry e : new ArrayList<>(changed)) {
      try {
        onThread(
            e.nsPath().isEmpty() ? null : e.nsPath(),
            () -> {
              if (e.device().equals(Ethtool.nameOf(e.index()))) {
                Ethtool.request(e.device(), e.features(), true);
              }
              return null;
            });
        ledger.remove(e);
        changed.remove(e);
      } catch (IOException | RuntimeException ex) {
        // left for the next open
      }
    }
  }
}
