package org.divert4j.sim.tck;

import java.nio.ByteBuffer;
import org.divert4j.NetInterface;
import org.divert4j.NoListenerPolicy;
import org.divert4j.sim.SimProvider;
import org.divert4j.stack.DivertEngine;

/**
 * Deliberately broken divert engines, each with one fault a real backend could have, plugged into
 * the simulation through {@link SimProvider#SimProvider(String, SimProvider.EngineFactory)}. The
 * self-tests run the TCK on each and check that it fails exactly the rules the fault breaks.
 */
final class BrokenEngines {
  private BrokenEngines() {}

  /**
   * Never drops for want of a listener: behaves as PASS_THROUGH whatever the policy, like a kernel
   * backend that always adds {@code --queue-bypass}. Breaks S11 (and S13's DROP half).
   */
  static SimProvider neverDropsWithoutListener() {
    return new SimProvider(
        "broken-never-drops",
        (b, h, c, o, e) ->
            new DivertEngine(b, h, c, o, e) {
              @Override
              protected boolean dropsWithoutListener(NoListenerPolicy policy) {
                return false;
              }
            });
  }

  /**
   * Counts only the packets that arrive from an interface in their connection's {@code
   * flow.Packets}, as a tracker hooked on the receive path alone would; a packet the host sends
   * reads the count without adding to it. Breaks S68.
   */
  static SimProvider countsOneDirectionOfEachConnection() {
    return new SimProvider(
        "broken-flow-count",
        (b, h, c, o, e) ->
            new DivertEngine(b, h, c, o, e) {
              @Override
              protected boolean countsInFlow(boolean inbound) {
                return inbound;
              }
            });
  }

  /**
   * Reassembles inbound fragments before the rules even in PER_FRAGMENT mode, like a kernel backend
   * whose queue hook runs after nf_defrag_ipv4. Breaks S16 and S7 (and S17/S18, whose fragments
   * never reach the program).
   */
  static SimProvider reassemblesInPerFragmentMode() {
    return new SimProvider(
        "broken-reassembles",
        (b, h, c, o, e) ->
            new DivertEngine(b, h, c, o, e) {
              @Override
              protected boolean reassemblesBeforeRules() {
                return true;
              }
            });
  }

  /**
   * Ignores the MTU limit on injection: nothing is refused as too large (the engine then fragments
   * or silently drops what it sends), like a backend that trusts the kernel to refuse. Breaks S27,
   * S28, S29 (the DF refusal) and S30.
   */
  static SimProvider sendsOversizePackets() {
    return new SimProvider(
        "broken-oversize",
        (b, h, c, o, e) ->
            new DivertEngine(b, h, c, o, e) {
              @Override
              protected void checkMtu(int length, boolean dontFragment, NetInterface out) {
                // the fault: no check at all
              }
            });
  }

  /**
   * Sets the total length and fills the ID but never recomputes the header checksum, like an
   * NFQUEUE payload verdict without a user-space fix-up. Breaks S38.
   */
  static SimProvider skipsChecksumFixUp() {
    return new SimProvider(
        "broken-checksum",
        (b, h, c, o, e) ->
            new DivertEngine(b, h, c, o, e) {
              @Override
              protected void fixUpHeader(ByteBuffer packet) {
                int checksum = packet.getShort(10);
                super.fixUpHeader(packet);
                packet.putShort(10, (short) checksum);
              }
            });
  }

  /**
   * Resumes a written-back packet at the rule that diverted it instead of after it, like a raw
   * socket reinjection that re-enters the hook from the top without a mark: the packet is diverted
   * again, forever. Breaks S43 and S44, and every rule whose test needs a written-back packet to
   * travel on.
   */
  static SimProvider redivertsReinjections() {
    return new SimProvider(
        "broken-loops",
        (b, h, c, o, e) ->
            new DivertEngine(b, h, c, o, e) {
              @Override
              protected int resumeAfter(int ruleIndex) {
                return ruleIndex;
              }
            });
  }

  /**
   * Lets a socket's own rules take the packets it injects, like a raw-socket injection without
   * SO_MARK exclusion. Breaks S45.
   */
  static SimProvider redivertsOwnInjections() {
    return new SimProvider(
        "broken-own-injections",
        (b, h, c, o, e) ->
            new DivertEngine(b, h, c, o, e) {
              @Override
              protected boolean skipsOwnInjection(int rulePort, int originPort) {
                return false;
              }
            });
  }

  /**
   * Applies the PER_FRAGMENT refusal in every mode: in ALWAYS_DEFRAGMENT mode an oversize packet is
   * refused instead of fragmented, whether injected (S29, and S30's always-defragment half) or
   * written back after reassembly or resizing (S23, S25).
   */
  static SimProvider neverFragmentsInjections() {
    return new SimProvider(
        "broken-never-fragments",
        (b, h, c, o, e) ->
            new DivertEngine(b, h, c, o, e) {
              @Override
              protected void checkMtu(int length, boolean dontFragment, NetInterface out)
                  throws org.divert4j.PacketTooLargeException {
                if (length > out.mtu()) {
                  throw new org.divert4j.PacketTooLargeException(length, out.mtu(), "broken", 0);
                }
              }
            });
  }

  /** Leaves an IP ID of 0 as it is, like Linux raw sockets with DF set. Breaks S39. */
  static SimProvider keepsZeroId() {
    return new SimProvider(
        "broken-id",
        (b, h, c, o, e) ->
            new DivertEngine(b, h, c, o, e) {
              @Override
              protected void fixUpHeader(ByteBuffer packet) {
                if (ipv6(packet)) { // IPv6 has no Identification outside the Fragment header
                  super.fixUpHeader(packet);
                  return;
                }
                boolean zero = packet.getShort(4) == 0;
                super.fixUpHeader(packet);
                if (zero) {
                  packet.putShort(4, (short) 0);
                  org.divert4j.packet.Checksums.fillIpv4Header(packet, 0);
                }
              }
            });
  }

  /** The packet (at position 0) is IPv6 by its version nibble. */
  static boolean ipv6(ByteBuffer packet) {
    return (packet.get(0) & 0xf0) == 0x60;
  }

  /**
   * Trusts the total length field (IPv4) or the payload length field (IPv6) instead of setting it.
   * Breaks S40 and S61.
   */
  static SimProvider trustsTotalLength() {
    return new SimProvider(
        "broken-length",
        (b, h, c, o, e) ->
            new DivertEngine(b, h, c, o, e) {
              @Override
              protected void fixUpHeader(ByteBuffer packet) {
                if (ipv6(packet)) {
                  short payloadLength = packet.getShort(4);
                  super.fixUpHeader(packet);
                  packet.putShort(4, payloadLength);
                  return;
                }
                int length = packet.getShort(2);
                super.fixUpHeader(packet);
                packet.putShort(2, (short) length);
                org.divert4j.packet.Checksums.fillIpv4Header(packet, 0);
              }
            });
  }

  /** "Helpfully" resets the TTL (IPv6: hop limit) of what it sends to 64. Breaks S41 and S61. */
  static SimProvider resetsTtl() {
    return new SimProvider(
        "broken-ttl",
        (b, h, c, o, e) ->
            new DivertEngine(b, h, c, o, e) {
              @Override
              protected void fixUpHeader(ByteBuffer packet) {
                packet.put(ipv6(packet) ? 7 : 8, (byte) 64);
                super.fixUpHeader(packet);
              }
            });
  }

  /** Refuses packets of exactly the MTU too (an off-by-one). Breaks S28. */
  static SimProvider mtuOffByOne() {
    return new SimProvider(
        "broken-off-by-one",
        (b, h, c, o, e) ->
            new DivertEngine(b, h, c, o, e) {
              @Override
              protected void checkMtu(int length, boolean dontFragment, NetInterface out)
                  throws org.divert4j.PacketTooLargeException {
                if (length == out.mtu()
                    && (dontFragment
                        || options.fragments() == org.divert4j.FragmentMode.PER_FRAGMENT)) {
                  throw new org.divert4j.PacketTooLargeException(
                      length, out.mtu(), "off by one", 0);
                }
                super.checkMtu(length, dontFragment, out);
              }
            });
  }

  /** Drops for want of a listener whatever the policy. Breaks S12 (and S13's other half). */
  static SimProvider neverPassesThrough() {
    return new SimProvider(
        "broken-no-pass",
        (b, h, c, o, e) ->
            new DivertEngine(b, h, c, o, e) {
              @Override
              protected boolean dropsWithoutListener(NoListenerPolicy policy) {
                return true;
              }
            });
  }

  /** Never reassembles, even in ALWAYS_DEFRAGMENT mode. Breaks S21, S22 and S24. */
  static SimProvider neverReassembles() {
    return new SimProvider(
        "broken-no-reassembly",
        (b, h, c, o, e) ->
            new DivertEngine(b, h, c, o, e) {
              @Override
              protected boolean reassemblesBeforeRules() {
                return false;
              }
            });
  }

  /**
   * Resumes a written-back packet after the end of its chain, like Linux NF_ACCEPT, which skips the
   * rest of the table. Breaks S44.
   */
  static SimProvider skipsRestOfChain() {
    return new SimProvider(
        "broken-skips-rest",
        (b, h, c, o, e) ->
            new DivertEngine(b, h, c, o, e) {
              @Override
              protected int resumeAfter(int ruleIndex) {
                return Integer.MAX_VALUE;
              }
            });
  }
}
