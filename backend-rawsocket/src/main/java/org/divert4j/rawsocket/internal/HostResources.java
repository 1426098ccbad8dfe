package org.divert4j.rawsocket.internal;

import java.util.List;
import org.divert4j.BackendUnavailableException;
import org.divert4j.DivertException;
import org.divert4j.PermissionException;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;
import org.divert4j.linux.Iptables;
import org.divert4j.linux.NetnsThread;
import org.divert4j.linux.Shell;

/**
 * What a host holds in its namespace from open to close: the thread in the namespace, the
 * interfaces (rtnetlink), the raw injection socket and the jumbo tap. {@link #open} checks the
 * privileges and that nfnetlink_queue answers, and opens them all or none.
 *
 * @param ns the namespace thread
 * @param ifaces the interfaces and routes
 * @param raw the raw injection socket
 * @param jumboTap the tap for packet tails above 65531 bytes, or null if it could not open
 * @param rules the namespace's firewall rules
 * @param stamps keeps receive timestamps on (S75), or null if it could not
 */
record HostResources(
    NetnsThread ns,
    Interfaces ifaces,
    RawSender raw,
    JumboTap jumboTap,
    RuleSet rules,
    ReceiveTimestamps stamps) {

  /**
   * @param config the host's properties
   * @param segmentOffload whether the host takes GSO packets whole (where the jumbo tap listens)
   * @return the resources; the caller closes them
   * @throws DivertException as {@link org.divert4j.spi.DivertProvider#open}
   */
  static HostResources open(HostConfig config, boolean segmentOffload) throws DivertException {
    Iptables ipt = requireTools(config.iptables());
    NetnsThread ns = NetnsThread.start(config.nsPath(), config.label());
    try {
      HostResources r = ns.call(() -> inNamespace(ns, ipt, config.marks(), segmentOffload));
      return r;
    } catch (DivertException | RuntimeException | Error e) {
      ns.close();
      throw e;
    }
  }

  /**
   * Finds the programs rule changes need: iptables (of the flavour asked for, or detected) and
   * nsenter, which runs it in the namespace.
   *
   * @param flavour {@code nft}, {@code legacy}, or null to detect
   * @return iptables
   * @throws BackendUnavailableException naming the package to install
   */
  static Iptables requireTools(String flavour) throws BackendUnavailableException {
    Iptables ipt =
        Iptables.detect(flavour)
            .orElseThrow(
                () ->
                    new BackendUnavailableException(
                        "iptables was not found: install the iptables package", null));
    if (Shell.which("nsenter").isEmpty()) {
      throw new BackendUnavailableException("nsenter was not found: install util-linux", null);
    }
    return ipt;
  }

  /** Opens the sockets on the namespace thread. */
  private static HostResources inNamespace(
      NetnsThread ns, Iptables ipt, Marks marks, boolean segmentOffload) throws DivertException {
    List<String> missing = Errors.missingCapabilities();
    if (!missing.isEmpty()) {
      throw new PermissionException("open a divert host on rawsocket", missing, Errors.EPERM, null);
    }
    checkNfqueue();
    RawSender r;
    try {
      r = RawSender.open(true);
    } catch (ErrnoException e) {
      if (Errors.isPermission(e.errno())) {
        throw Errors.permission("open a raw socket", "CAP_NET_RAW", e);
      }
      throw Errors.generic("cannot open the raw injection socket", e);
    }
    Interfaces ifaces;
    try {
      ifaces = Interfaces.open();
    } catch (ErrnoException e) {
      r.close();
      throw Errors.generic("cannot read the interfaces over rtnetlink", e);
    }
    JumboTap jt;
    try {
      jt = JumboTap.open(JumboTap.scope(ifaces.get().list(), segmentOffload));
    } catch (ErrnoException e) {
      jt = null; // S8 above 65531 bytes then fails with NO_BUFFER; nothing else
    }
    return new HostResources(
        ns,
        ifaces,
        r,
        jt,
        new RuleSet(ipt, ns.nsPath(), ns.inode(), marks),
        ReceiveTimestamps.open());
  }

  /** Checks that nfnetlink_queue answers and lets us configure (CAP_NET_ADMIN). */
  private static void checkNfqueue() throws DivertException {
    NfqChannel ch;
    try {
      ch = NfqChannel.open(0, 1, 65536);
    } catch (ErrnoException e) {
      throw new BackendUnavailableException(
          "cannot open a NETLINK_NETFILTER socket (is nfnetlink in the kernel?): " + e.getMessage(),
          e.errno(),
          e);
    }
    try {
      // PF_UNBIND is a no-op on current kernels but still needs CAP_NET_ADMIN (nfnetlink checks
      // it for every message) and the nfnetlink_queue subsystem.
      ch.configure(NfqCodec.NFQNL_CFG_CMD_PF_UNBIND, -1, -1, 0, 0);
    } catch (ErrnoException e) {
      if (Errors.isPermission(e.errno())) {
        throw Errors.permission("configure NFQUEUE", "CAP_NET_ADMIN", e);
      }
      throw new BackendUnavailableException(
          "nfnetlink_queue does not answer (modprobe nfnetlink_queue): " + e.getMessage(),
          e.errno(),
          e);
    } finally {
      ch.close();
    }
  }

  /** Closes everything; idempotent. */
  void close() {
    if (stamps != null) {
      stamps.close();
    }
    raw.close();
    if (jumboTap != null) {
      jumboTap.close();
    }
    ifaces.close();
    ns.close();
  }
}
