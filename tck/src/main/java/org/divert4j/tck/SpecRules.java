package org.divert4j.tck;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The catalogue of the rules in SEMANTICS.md, in the order the specification lists them, with a
 * one-line summary of each. The report uses it to name rules with no passing test, and the TCK's
 * own tests use it to check that every rule has a test named after it.
 *
 * <p>Rule numbers S10, S20, S26, S34, S37 and S48 of the research notes (background.md) are not
 * rules of SEMANTICS.md (they were folded into S8, S16, S21-S25, S33, S33 and S27/S31), so they are
 * not listed here.
 */
public final class SpecRules {
  /**
   * One rule of SEMANTICS.md.
   *
   * @param id the rule id, e.g. {@code S27}
   * @param section the SEMANTICS.md section letter, {@code A}..{@code P}
   * @param summary what the rule demands, in one line
   * @param note which parts are SHOULD or capability-gated, empty if the whole rule is MUST
   */
  public record Rule(String id, String section, String summary, String note) {
    @Override
    public String toString() {
      return id + ": " + summary + (note.isEmpty() ? "" : " [" + note + "]");
    }
  }

  /** The note of a rule that applies only to backends with a capability, e.g. section O. */
  static final String WHOLE_RULE = "whole rule: cap ";

  private static final Map<String, Rule> RULES = new LinkedHashMap<>();

  static {
    a("S1", "A socket receives nothing until it is bound to a port; only the port identifies it.");
    a(
        "S2",
        "Ports are independent; binding a bound port fails with 'port in use'; port 0 and ports"
            + " above 65535 are refused.");
    rule(
        "S3",
        "A",
        "Rules are added and removed at run time; removing a rule stops diversion at once;"
            + " unmatched traffic is never touched.",
        "rules shared between programs: cap SHARED_RULES");
    rule(
        "S4",
        "A",
        "Chains follow the ipchains model: a forwarded packet goes input, forward, output; local"
            + " packets never reach forward.",
        "forwarded traffic: cap FORWARD");
    a("S5", "Rules in a chain are evaluated in order; the first matching DIVERT rule takes it.");
    b(
        "S6",
        "A received packet carries port, chain, direction and, for inbound packets, the receiving"
            + " interface; outbound ones carry 0.0.0.0.");
    b(
        "S8",
        "Each receive returns one whole IP packet, never truncated, byte-identical to the wire,"
            + " with a valid header checksum; it is taken out of the stack.");
    b("S9", "A received packet that is never written back is lost.");
    b("S14", "Packets received or queued but not written back when the socket closes are dropped.");
    b(
        "S15",
        "Each socket has a bounded queue; when full, packets are dropped and counted, or accepted"
            + " and counted with failOpen.");
    rule(
        "S52",
        "B",
        "Packets of one port and direction are received in arrival order by a single reader.",
        "SHOULD");
    c(
        "S11",
        "With noListener=DROP, a packet matching a rule whose port has no socket is silently"
            + " dropped: no ICMP error, no delivery.");
    rule(
        "S12",
        "C",
        "With noListener=PASS_THROUGH such a packet continues as if the rule were absent; later"
            + " chains still apply.",
        "later DIVERT rules in the same chain still apply: SHOULD; later chains: cap FORWARD");
    c(
        "S13",
        "Whether a listener exists is decided per packet; binding and closing take effect at"
            + " once.");
    d(
        "S16",
        "Per-fragment mode, inbound: each fragment is delivered on its own, unchanged (ID, MF,"
            + " offset, length).");
    d(
        "S7",
        "A rule is matched against each fragment; port and ICMP-type rules match only the first"
            + " fragment; protocol/address rules match every fragment.");
    d("S17", "Writing fragments back unchanged works: the destination receives the datagram.");
    d("S18", "Dropping one fragment loses the whole datagram at the destination.");
    d(
        "S19",
        "Outbound, the output chain sees what goes on the wire: a local datagram larger than the"
            + " MTU is delivered as its fragments.");
    e(
        "S21",
        "Always-defragment mode: fragments are reassembled before the rules; the program receives"
            + " one whole datagram, exactly once.");
    e("S22", "Rules see the whole datagram, so a port rule diverts the whole fragmented datagram.");
    e(
        "S23",
        "A reassembled datagram larger than the egress MTU, written back outbound, is fragmented"
            + " again to the MTU and arrives intact.");
    e(
        "S24",
        "Incomplete datagrams are never delivered and are discarded after the reassembly timeout;"
            + " overlaps are discarded; reassembly memory is bounded and discards are counted.");
    e(
        "S25",
        "The program may resize a reassembled datagram; it is fragmented to the MTU when written"
            + " back.");
    f(
        "S27",
        "Per-fragment mode: a packet longer than the egress MTU is never transmitted; the send"
            + " fails with 'packet too large' carrying the MTU.");
    f("S28", "A packet exactly as long as the MTU is sent; one byte more is refused.");
    f(
        "S29",
        "Always-defragment mode: an outbound packet larger than the MTU is fragmented and"
            + " delivered; with DF set it is refused as in S27.");
    rule(
        "S30",
        "F",
        "The MTU is that of the egress interface chosen by the route, per interface.",
        "two interfaces: caps MULTIPLE_INTERFACES and FORWARD");
    f("S31", "Nothing longer than 65535 bytes is accepted, in any mode.");
    f("S53", "Inbound injection is not limited by the MTU, only by S31.");
    g("S32", "A packet sent with no address (or the zero address) is injected outbound, routed.");
    rule(
        "S33",
        "G",
        "A packet sent with a local interface address is injected inbound and reaches the host's"
            + " stack.",
        "arrives on exactly that interface: cap EXACT_INBOUND_INTERFACE");
    g("S35", "Writing a packet back with its divert address keeps its direction.");
    g(
        "S36",
        "An injection address neither zero nor local is refused with 'address not available'.");
    g("S42", "Packets the program builds itself obey the same rules as reinjected ones.");
    h("S38", "The IP header checksum is always recomputed, in both directions.");
    h("S39", "An IP ID of 0 is replaced by a non-zero one (also with DF); a non-zero ID is kept.");
    h("S40", "The total length field is set to the number of bytes written.");
    h(
        "S41",
        "Nothing else is changed: TTL, TOS, flags, offset, options, addresses, protocol, payload,"
            + " transport checksums.");
    i(
        "S43",
        "A reinjected packet is never diverted again by the rule that diverted it; the traffic"
            + " flows.");
    rule(
        "S44",
        "I",
        "A reinjected packet continues after the rule that diverted it; later rules and chains may"
            + " divert it again.",
        "later chains: cap FORWARD");
    i(
        "S45",
        "A packet injected without interception never comes back to the injecting socket's port.");
    j(
        "S46",
        "Opening a backend without the privileges it needs fails with an error naming what is"
            + " missing.");
    j(
        "S47",
        "A malformed packet is refused with a 'malformed packet' error naming the defect; nothing is"
            + " sent; the socket keeps working.");
    j("S49", "An outbound packet with no route is refused with a 'no route' error.");
    j("S50", "Buffer exhaustion and queue overflow are counted, not thrown.");
    j(
        "S51",
        "Closing a host removes its rules and sockets; operations on a closed socket fail with"
            + " 'closed'; a blocked receive returns promptly.");
    k(
        "S54",
        "A rule matches both families unless -4/-6 or an address says otherwise; one rule never"
            + " mixes them; icmp is IPv4 only, icmpv6 IPv6 only.");
    k(
        "S55",
        "A received IPv6 packet is whole and unchanged; its interface address is the interface's"
            + " first IPv6 address, an InetAddress.");
    k(
        "S56",
        "Upper protocol and ports are found through the extension headers; ports only in the first"
            + " fragment; a chain past the end matches only rules without protocol or port.");
    k(
        "S57",
        "Per-fragment mode: IPv6 fragments are delivered one by one, unchanged; outbound the output"
            + " port sees the host's fragments.");
    k(
        "S58",
        "Always-defragment mode: IPv6 fragments are reassembled before the rules; overlaps discard;"
            + " atomic fragments pass as they are; oversize output is fragmented again.");
    k(
        "S59",
        "Per-fragment mode: an IPv6 packet longer than the egress MTU is refused with the MTU;"
            + " inbound injection has no MTU; jumbograms are refused.");
    k(
        "S60",
        "'::' injects outbound; a local IPv6 address inbound on its interface; other addresses are"
            + " refused; a link-local destination with no interface has no route.");
    k("S61", "The payload length is set to the bytes written minus 40; nothing else is changed.");
    k("S62", "A malformed IPv6 packet is refused naming the defect; the socket keeps working.");
    k(
        "S63",
        "Sections C, I, S13-S15 and S50-S51 hold for IPv6; the families never share a reassembly"
            + " buffer or identification space.");
    m(
        "S64",
        "A rule may carry a filter in WinDivert 2.x's language over the fields that have a meaning"
            + " here; other fields are refused by name.");
    m(
        "S65",
        "A comparison on a field the packet does not have is false, its negation true; every"
            + " backend agrees with the reference evaluator.");
    m(
        "S66",
        "A bad filter is refused when the rule is built, with the position and what was expected;"
            + " nothing is installed.");
    rule(
        "S67",
        "M",
        "A packet its rule's filter rejects is never copied to user space: it never waits for the"
            + " program.",
        "whole rule: cap KERNEL_FILTER");
    rule(
        "S68",
        "M",
        "flow.Packets is the number of packets of the packet's connection so far, both directions,"
            + " this one included: flow.Packets <= 6 diverts the first six of each connection.",
        WHOLE_RULE + "FLOW_COUNT");
    rule(
        "S69",
        "N",
        "With segmentOffload on, TCP/UDP super-packets up to 65535 bytes may be delivered with"
            + " their segment size; written back, changed or not, the stack segments them and the"
            + " stream arrives whole; S27 does not apply to them.",
        "whole rule: cap SEGMENT_OFFLOAD");
    rule(
        "S70",
        "N",
        "With segmentOffload off, no delivered packet is larger than its interface MTU, except"
            + " reassembled datagrams in always-defragment mode.",
        "");
    rule(
        "S73",
        "P",
        "Delivered packets carry their firewall mark (the bits outside the backend's); programs"
            + " set them on written-back and injected packets.",
        "cap PACKET_MARK");
    rule(
        "S74",
        "P",
        "A backend that keeps state in marks uses a contiguous mask of at most 12 bits and never"
            + " touches a bit outside it; an open that overlaps other rules' marks fails, naming"
            + " the rule.",
        "only backends with marks: cap PACKET_MARK");
    rule(
        "S75",
        "P",
        "Delivered packets carry, where the backend knows them, a receive timestamp, the outbound"
            + " interface, the owner's uid and gid and the connection state; absent reads as"
            + " absent, never as zero.",
        "whole rule: cap PACKET_META");
    rule(
        "S71",
        "O",
        "A sniffer receives copies of what its port's rules match; the packet continues at once; a"
            + " stopped sniffer loses only its own copies (counted); write-back is refused as"
            + " 'sniffer', injection works.",
        WHOLE_RULE + "SNIFF");
    rule(
        "S72",
        "O",
        "Sniffer and diverting sockets serve different rules of one chain; a copied packet is"
            + " still diverted by a later diverting rule.",
        WHOLE_RULE + "SNIFF");
  }

  private SpecRules() {}

  private static void rule(String id, String section, String summary, String note) {
    RULES.put(id, new Rule(id, section, summary, note));
  }

  private static void m(String id, String s) {
    rule(id, "M", s, "");
  }

  private static void a(String id, String s) {
    rule(id, "A", s, "");
  }

  private static void b(String id, String s) {
    rule(id, "B", s, "");
  }

  private static void c(String id, String s) {
    rule(id, "C", s, "");
  }

  private static void d(String id, String s) {
    rule(id, "D", s, "");
  }

  private static void e(String id, String s) {
    rule(id, "E", s, "");
  }

  private static void f(String id, String s) {
    rule(id, "F", s, "");
  }

  private static void g(String id, String s) {
    rule(id, "G", s, "");
  }

  private static void h(String id, String s) {
    rule(id, "H", s, "");
  }

  private static void i(String id, String s) {
    rule(id, "I", s, "");
  }

  private static void j(String id, String s) {
    rule(id, "J", s, "");
  }

  /** Section K is capability-gated as a whole: a backend without IPV6 diverts IPv4 only. */
  private static void k(String id, String s) {
    rule(id, "K", s, "cap IPV6");
  }

  /**
   * @return every rule of SEMANTICS.md, in specification order; unmodifiable
   */
  public static List<Rule> all() {
    return Collections.unmodifiableList(new ArrayList<>(RULES.values()));
  }

  /**
   * @param id a rule id such as {@code S27}
   * @return the rule, if SEMANTICS.md has it
   */
  public static Optional<Rule> find(String id) {
    return Optional.ofNullable(RULES.get(id));
  }

  /**
   * @return the rule ids, in specification order
   */
  public static List<String> ids() {
    return List.copyOf(RULES.keySet());
  }
}
