package org.divert4j.rawsocket.internal;

import java.util.List;
import org.divert4j.DivertException;
import org.divert4j.HostOptions;
import org.divert4j.PermissionException;
import org.divert4j.PortInUseException;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;
import org.divert4j.linux.NetnsThread;

/**
 * Binds a divert port to its NFQUEUE queues, or a sniffer's port to its nfnetlink_log group (port
 * .. port + parallelism - 1): a netlink socket per queue, opened in the host's namespace, bound
 * with copy mode PACKET, the maximal copy range, the queue length and the fail-open flag of the
 * host options. Thread-safe.
 */
final class QueueBinder {
  private final NetnsThread ns;
  private final HostOptions options;
  private final HostConfig config;

  QueueBinder(NetnsThread ns, HostOptions options, HostConfig config) {
    this.ns = ns;
    this.options = options;
    this.config = config;
  }

  /**
   * @param port a divert port
   * @return one bound channel per queue; the caller closes them
   * @throws PortInUseException if another socket has one of the queues
   * @throws PermissionException without CAP_NET_ADMIN
   * @throws DivertException on other failures
   */
  NfqChannel[] bind(int port) throws DivertException {
    int queues = options.parallelism();
    if (port + queues - 1 > 65535) {
      throw new IllegalArgumentException(
          "divert port "
              + port
              + " with parallelism "
              + queues
              + " needs queues up to "
              + (port + queues - 1)
              + ", above 65535");
    }
    NfqChannel[] channels = new NfqChannel[queues];
    try {
      for (int i = 0; i < queues; i++) {
        channels[i] = open(port, port + i);
      }
    } catch (DivertException | RuntimeException e) {
      for (NfqChannel c : channels) {
        if (c != null) {
          c.close();
        }
      }
      throw e;
    }
    return channels;
  }

  /**
   * Opens a sniffer's channel: a netlink socket bound to the nfnetlink_log group numbered as the
   * port ({@link NfqChannel#bindLogGroup}). Its receive buffer is the sniffer's queue, counted in
   * bytes, not packets: 1 KiB per {@link HostOptions#queueLength()} slot, which the kernel doubles
   * for its overhead (SO_RCVBUF, socket(7)). The kernel batches copies ({@link
   * NflogCodec#threshold}: one per message for a queue of 16 or fewer, else up to {@link
   * NflogCodec#MAX_BATCH} per message) and netlink_unicast trims a message buffer that is less than
   * half full (netlink_trim, net/netlink/af_netlink.c), so that holds about queueLength full-size
   * copies and several times as many small ones.
   *
   * @param port a divert port
   * @return the bound channel; the caller closes it
   * @throws PortInUseException if another socket has the group
   * @throws PermissionException without CAP_NET_ADMIN
   * @throws DivertException on other failures
   */
  NfqChannel bindLog(int port) throws DivertException {
    int rcvbuf = (int) Math.min(Integer.MAX_VALUE / 2, (long) options.queueLength() * 1024);
    NfqChannel ch =
        ns.call(
            () -> {
              try {
                return NfqChannel.open(port, config.batch(), rcvbuf);
              } catch (ErrnoException e) {
                if (Errors.isPermission(e.errno())) {
                  throw Errors.permission("open an NFLOG socket", "CAP_NET_ADMIN", e);
                }
                throw Errors.generic("cannot open an NFLOG socket", e);
              }
            });
    try {
      ch.bindLogGroup(NflogCodec.threshold(options.queueLength()));
      return ch;
    } catch (ErrnoException e) {
      ch.close();
      throw refused(port, e, "group " + port);
    }
  }

  /**
   * The exception for a refused bind: nfqnl_recv_config and nfulnl_recv_config answer EPERM when
   * another socket owns the queue or group and EBUSY when this one does; EPERM is also the answer
   * without CAP_NET_ADMIN, told apart by the thread's capabilities.
   */
  private static DivertException refused(int port, ErrnoException e, String what) {
    if (Errors.isPermission(e.errno())) {
      List<String> missing = Errors.missingCapabilities();
      if (!missing.isEmpty()) {
        return new PermissionException("bind divert port " + port, missing, e.errno(), e);
      }
      return new PortInUseException(port, e.errno());
    }
    if (e.errno() == Errors.EBUSY) {
      return new PortInUseException(port, e.errno());
    }
    return Errors.generic("cannot bind divert port " + port + " (" + what + ")", e);
  }

  private NfqChannel open(int port, int queue) throws DivertException {
    NfqChannel ch =
        ns.call(
            () -> {
              try {
                return NfqChannel.open(queue, config.batch(), config.rcvbuf());
              } catch (ErrnoException e) {
                if (Errors.isPermission(e.errno())) {
                  throw Errors.permission("open an NFQUEUE socket", "CAP_NET_ADMIN", e);
                }
                throw Errors.generic("cannot open an NFQUEUE socket", e);
              }
            });
    try {
      int flags = options.failOpen() ? NfqCodec.NFQA_CFG_F_FAIL_OPEN : 0;
      if (options.segmentOffload()) {
        // S69: GSO packets reach the reader whole (nfqnl_enqueue_packet skips skb_gso_segment)
        flags |= NfqCodec.NFQA_CFG_F_GSO;
      }
      ch.configure(
          NfqCodec.NFQNL_CFG_CMD_BIND,
          NfqCodec.MAX_COPY_RANGE,
          options.queueLength(),
          flags,
          NfqCodec.NFQA_CFG_F_FAIL_OPEN | NfqCodec.NFQA_CFG_F_GSO);
      metadataFlags(ch);
      return ch;
    } catch (ErrnoException e) {
      ch.close();
      throw refused(port, e, "queue " + queue);
    }
  }

  /**
   * Asks for the owner and the connection state of queued packets (S75), each in its own config
   * message so that a kernel without one keeps the other: nfqnl_recv_config refuses
   * NFQA_CFG_F_CONNTRACK with EOPNOTSUPP when no conntrack glue (nf_conntrack_netlink) is loaded,
   * and NFQA_CFG_F_UID_GID exists since Linux 4.0 (net/netfilter/nfnetlink_queue.c). A refusal
   * leaves those values absent; the queue works as before.
   */
  private static void metadataFlags(NfqChannel ch) {
    for (int flag : new int[] {NfqCodec.NFQA_CFG_F_UID_GID, NfqCodec.NFQA_CFG_F_CONNTRACK}) {
      try {
        ch.configure(NfqCodec.NFQNL_CFG_CMD_NONE, -1, -1, flag, flag);
      } catch (ErrnoException e) {
        // absent values, not a failure
      }
    }
  }
}
