package org.divert4j.rawsocket;

import java.time.Duration;
import org.divert4j.linux.testbed.NamespaceNode;
import org.divert4j.spi.DivertProvider;
import org.divert4j.tck.reliability.FragmentAttackVerification;

/**
 * The fragment attacks against the kernel backend, crafted by the peer namespace and written onto
 * the link with its AF_PACKET socket ({@link NamespaceNode#sendRaw}). Here the kernel's own
 * defragmentation ({@code nf_defrag_ipv4} before NFQUEUE) does the work, with the test bed's
 * reassembly limits ({@code ipfrag_high_thresh} = the memory bound, {@code ipfrag_time} = the
 * timeout) in the host's namespace; its memory figure is {@code FRAG memory} of {@code
 * /proc/net/sockstat}, and it counts drops per datagram. Root only.
 */
class KernelFragmentAttackTest extends FragmentAttackVerification {
  @Override
  protected void assumeAvailable() {
    Root.assumeKernel();
  }

  @Override
  protected DivertProvider provider() {
    return new RawSocketProvider();
  }

  /**
   * Real time: smaller attacks, 10 times as much long. Pings of death in bursts of 30 of each
   * variant (Linux holds them until the timeout); one datagram of 992 bytes in 8-byte fragments
   * (124 of them: more would exceed the bound by their truesize).
   */
  @Override
  protected Sizes sizes() {
    return new Sizes(10, 300, 30, 30, 1, 3000, 100, 5000, 500, 992);
  }

  /** {@code ipfrag_time}: 2 s, so that the tests wait for expiry in seconds. */
  @Override
  protected Duration reassemblyTimeout() {
    return Duration.ofSeconds(2);
  }

  /** The kernel's fragment memory in the host's namespace, from /proc/net/sockstat. */
  @Override
  protected long heldBytes() throws Exception {
    String s = ((NamespaceNode) bed().hostNode()).netns().execChecked("cat", "/proc/net/sockstat");
    for (String line : s.split("\n")) {
      if (line.startsWith("FRAG:")) {
        return Long.parseLong(line.trim().split("\\s+")[4]);
      }
    }
    return 0;
  }

  /** Linux checks ipfrag_high_thresh before it adds a fragment: one fragment's truesize more. */
  @Override
  protected long memorySlack() {
    return 8192;
  }
}
