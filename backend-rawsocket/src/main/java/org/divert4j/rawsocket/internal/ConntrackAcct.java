package org.divert4j.rawsocket.internal;

import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import org.divert4j.DivertException;
import org.divert4j.linux.NetnsThread;

/**
 * {@code net.netfilter.nf_conntrack_acct} of a host's namespace around its connbytes rules (S68).
 * Adding a connbytes match forces it on when it is off ({@code connbytes_mt_check} in
 * net/netfilter/xt_connbytes.c calls {@code nf_ct_set_acct(net, true)}), and nothing in the kernel
 * sets it back. A host reads it before its first rule with {@code flow.Packets}; if it was off, the
 * host sets it off again when it closes and no connbytes rule is left in the namespace (divert4j's
 * or another's, any table, either family). A host that crashes leaves it on; so does one that found
 * it off while conntrack was not loaded yet (the file absent), since then nothing says what it
 * would have been. Stateless; the sysctl is per namespace, so it is read and written on the
 * namespace's thread.
 */
final class ConntrackAcct {
  static final String FILE = "/proc/sys/net/netfilter/nf_conntrack_acct";

  private ConntrackAcct() {}

  /**
   * @return "1" or "0" as the file says, or "" if it does not exist (conntrack not loaded)
   */
  static String read(NetnsThread ns) throws DivertException {
    return ns.call(
        () -> {
          if (!new File(FILE).exists()) {
            return "";
          }
          // one read(2) from offset 0: a sysctl answers a later offset with end of file
          try (InputStream in = new FileInputStream(FILE)) {
            byte[] b = new byte[16];
            int n = in.read(b);
            return new String(b, 0, Math.max(n, 0), StandardCharsets.US_ASCII).trim();
          }
        });
  }

  /** Sets it off again (on the namespace's thread). */
  static void off(NetnsThread ns) throws DivertException {
    ns.call(
        () -> {
          try (OutputStream out = new FileOutputStream(FILE)) {
            out.write("0\n".getBytes(StandardCharsets.US_ASCII));
          } catch (IOException e) {
            throw new IOException("cannot write 0 to " + FILE + ": " + e.getMessage(), e);
          }
          return null;
        });
  }
}
