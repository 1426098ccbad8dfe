package org.divert4j.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.net.Inet4Address;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.divert4j.Capability;
import org.divert4j.Chain;
import org.divert4j.Direction;
import org.divert4j.DivertException;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.Ipv4;
import org.divert4j.filter.Filter;
import org.divert4j.filter.FilterContext;
import org.divert4j.filter.FilterSyntaxException;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.UdpEndpoint;
import org.junit.jupiter.api.Test;

/**
 * Area M of SEMANTICS.md: filter expressions in WinDivert's language (S64-S68).
 *
 * <p>Each filter gets its own rule and port, followed by a catch-all rule, and the peer sends raw
 * IPv4 packets to the host: a packet the filter accepts arrives on the filter's port, any other on
 * the catch-all port, so every verdict is observed without waiting for something not to happen.
 */
@SpecArea(id = "M", title = "Filter expressions")
public class FilterVerification extends TckVerification {
  private static final long DIFFERENTIAL_FILTERS = 40;

  /** For the JUnit engine and subclasses. */
  public FilterVerification() {}

  /**
   * <b>S64</b>: a rule's filter selects packets by WinDivert's fields: a table of 31 filters times
   * 6 whole packets (UDP, TCP SYN, TCP with a TLS ClientHello, ICMP echo, an unknown protocol, UDP
   * with a low TTL) covering the header fields, payload bytes, negative indexes, addresses and
   * prefixes, precedence, {@code ? :}, and the packet's direction and interface.
   *
   * <p>If it fails: the message names the filter, the packet kind (see {@code FilterCases.packet})
   * and where the packet went. If the reference evaluator disagrees with the table too, the fault
   * is in {@code org.divert4j.filter}; otherwise the backend evaluates filters differently (the
   * engine: {@code PacketPath.traverse}; the kernel: its compiled matches).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S64")
  public void S64_filterSelectsPacketsByWinDivertFields(TckContext tck) throws Exception {
    checkTable(tck, FilterCases.table(), FilterCases.WHOLE);
  }

  /**
   * <b>S64</b>, as a new user tries it: the filters of WinDivert's documentation and samples that
   * use supported fields (see {@code FilterCases.windivertExamples}) parse unchanged and select the
   * same packets on the backend as in the reference evaluator, among the six whole packets of S64.
   *
   * <p>If it fails: as for the table of S64; a parse error means a documented WinDivert spelling is
   * not accepted.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S64")
  public void S64_winDivertDocumentationExamplesBehaveAlike(TckContext tck) throws Exception {
    checkTable(tck, FilterCases.windivertExamples(), FilterCases.WHOLE);
  }

  /**
   * <b>S65</b>: a comparison on a field the packet does not have ({@code tcp.*} on UDP, ports of a
   * later fragment, a payload byte past the end, {@code ipv6.*} on IPv4) is false, and {@code not}
   * of it is true, on the backend as in the reference evaluator: the six packets of S64 and both
   * fragments of a UDP datagram (S7: fields of the transport header exist in the first only).
   *
   * <p>If it fails: the backend treats a missing field as zero, or negates the comparison instead
   * of the test (WinDivert's own compiler turns {@code not a == b} into {@code a != b}, which is
   * false on a packet without the field; S65 wants true).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S65")
  public void S65_missingFieldsAreFalseAndTheirNegationTrue(TckContext tck) throws Exception {
    checkTable(tck, FilterCases.missing(), FilterCases.KINDS);
  }

  /**
   * <b>S65</b>: randomized differential: 40 random filters over the fields of the eight packets,
   * each against all of them; the backend's verdict (diverted to the filter's port or not) equals
   * the reference evaluator's ({@link Filter#matches}) for every pair. A backend may refuse a
   * filter it cannot hold, naming its limit (S66), but not more than a quarter of them.
   *
   * <p>If it fails: the message prints the seed, the filter, the packet kind and both verdicts;
   * {@code FilterCases.randomFilter(new Random(seed), ...)} regenerates the filters.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S65")
  public void S65_backendAgreesWithTheReferenceEvaluator(TckContext tck) throws Exception {
    long seed = new Random().nextLong();
    Random r = new Random(seed);
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      Bench b = new Bench(bed, p, tck.timeout());
      FilterContext context =
          new FilterContext().set(Direction.INBOUND, false, p.hostInterface(p.host()).index());
      int refused = 0;
      for (int i = 0; i < DIFFERENTIAL_FILTERS; i++) {
        String text = FilterCases.randomFilter(r, 1 + r.nextInt(3));
        Filter filter = Filter.parse(text);
        Map<Character, Boolean> got;
        try {
          got = b.verdicts(text, FilterCases.KINDS);
        } catch (DivertException | IllegalArgumentException e) {
          if (e instanceof FilterSyntaxException) {
            throw e;
          }
          // S66: a backend may refuse a filter it cannot hold, naming the limit
          assertTrue(
              e.getMessage() != null && e.getMessage().matches("(?s).*\\d.*"),
              "seed " + seed + ": '" + text + "' refused without naming the limit: " + e);
          refused++;
          continue;
        }
        for (Map.Entry<Character, Boolean> e : got.entrySet()) {
          boolean want = filter.matches(ByteBuffer.wrap(b.packets.get(e.getKey())), context);
          if (want != e.getValue()) {
            fail(
                "seed "
                    + seed
                    + ": filter '"
                    + text
                    + "' on packet "
                    + e.getKey()
                    + ": the reference evaluator says "
                    + (want ? "diverted" : "not diverted")
                    + ", the backend "
                    + (e.getValue() ? "diverted it" : "did not divert it"));
          }
        }
      }
      assertTrue(
          refused <= DIFFERENTIAL_FILTERS / 4,
          "seed "
              + seed
              + ": the backend refused "
              + refused
              + " of "
              + DIFFERENTIAL_FILTERS
              + " random filters of at most 3 levels");
    }
  }

  /**
   * <b>S66</b>: a bad filter is refused when the rule is built, with the 1-based position and what
   * was expected there; a field without a meaning here is refused by name; a filter beyond the
   * depth limit is refused with the limit. A long filter within the parser's limits (247 tests) is
   * either held and evaluated by the backend, or refused by {@code addRule} with a message naming
   * the backend's limit, leaving the host's rules as they were.
   *
   * <p>If it fails: the parser in {@code org.divert4j.filter} reports positions or expectations
   * differently; or the backend accepted the long filter and evaluates it wrongly (or not at all);
   * or it refused it without naming the limit, or after installing part of it.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S66")
  public void S66_badFilterIsRefusedWhenTheRuleIsBuilt(TckContext tck) throws Exception {
    assertEquals(
        "at 17: expected a field or a number, found ')'",
        assertThrows(
                FilterSyntaxException.class,
                () -> DivertRule.parse("input filter \"(tcp.DstPort == )\" -j DIVERT " + PORT))
            .getMessage());
    FilterSyntaxException named =
        assertThrows(
            FilterSyntaxException.class,
            () -> DivertRule.on(Chain.INPUT).filter("udp and processId == 4"));
    assertEquals(9, named.position());
    assertTrue(named.getMessage().contains("'processId'"), named.getMessage());
    String deep = "(".repeat(Filter.MAX_DEPTH + 1) + "udp" + ")".repeat(Filter.MAX_DEPTH + 1);
    FilterSyntaxException tooDeep =
        assertThrows(
            FilterSyntaxException.class,
            () -> DivertRule.parse("input filter \"" + deep + "\" -j DIVERT " + PORT));
    assertTrue(
        tooDeep.getMessage().contains("deeper than " + Filter.MAX_DEPTH), tooDeep.getMessage());
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      Bench b = new Bench(bed, p, tck.timeout());
      // 247 tests in under 3000 characters: within the parser's limits, beyond a 64-instruction
      // BPF match
      StringBuilder big = new StringBuilder("udp.DstPort==53");
      for (int i = 1; i < Filter.MAX_TESTS - 9; i++) {
        big.append("||ip.Id=").append(i);
      }
      Filter.parse(big.toString());
      int before = bed.host().rules().size();
      Map<Character, Boolean> v;
      try {
        v = b.verdicts(big.toString(), "US");
      } catch (DivertException | IllegalArgumentException e) {
        if (e instanceof FilterSyntaxException) {
          throw e;
        }
        assertTrue(
            e.getMessage() != null && e.getMessage().matches("(?s).*\\d.*"),
            "a filter the backend cannot hold is refused with the limit: " + e);
        assertEquals(
            before, bed.host().rules().size(), "a refused filter leaves nothing installed: " + e);
        return;
      }
      assertEquals(
          Map.of('U', true, 'S', false),
          v,
          "a filter the backend accepts (" + Filter.MAX_TESTS + " tests at most) is evaluated");
    }
  }

  /**
   * <b>S67</b> [cap: KERNEL_FILTER]: a packet its rule's filter rejects is never queued for the
   * program. With {@code input -p udp filter "udp.DstPort == 9" -j DIVERT 4100} installed and its
   * socket bound but never read, 20 datagrams to the host's UDP port 7000 (which the filter
   * rejects) all reach the host's endpoint at once; then a datagram to port 9, which the filter
   * selects, waits in the socket's queue.
   *
   * <p>If it fails: the backend copies the rule's packets to user space and applies the filter
   * there, so non-matching traffic waits for the program (or is lost while it does not read).
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S67", capabilities = Capability.KERNEL_FILTER)
  public void S67_rejectedPacketsNeverWaitForTheProgram(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed();
        UdpEndpoint endpoint = bed.hostNode().openUdp(UDP_PORT)) {
      Probe p = probe(bed, tck);
      bed.host()
          .addRule(DivertRule.parse("input -p udp filter \"udp.DstPort == 9\" -j DIVERT " + PORT));
      try (DivertSocket unread = bed.host().bind(PORT)) {
        for (int i = 0; i < 20; i++) {
          bed.peer().sendUdp(p.host(), SRC_PORT, UDP_PORT, Packets.pattern(64, i));
        }
        for (int i = 0; i < 20; i++) {
          p.datagram(
              endpoint,
              Packets.pattern(64, i),
              "datagram "
                  + i
                  + " of 20, which the filter rejects, while nobody reads port "
                  + PORT);
        }
        bed.peer().sendUdp(p.host(), SRC_PORT, 9, Packets.pattern(64, 99));
        Probe.Received r = p.receive(unread, "the datagram to port 9, which the filter selects");
        assertEquals(9, Packets.udpDestinationPort(r.bytes()), r.toString());
      }
    }
  }

  /**
   * <b>S68</b> [cap: FLOW_COUNT]: {@code flow.Packets} counts the packets of the packet's
   * connection, both directions, this one included. With {@code flow.Packets <= 3} on the host's
   * input and output rules for its UDP port 7000, two interleaved UDP connections from the peer's
   * ports 7101 and 7103 exchange 8 packets each, every packet sent after the one before arrived:
   * exactly the first 3 of each connection (two from the peer, one answer) are diverted, the other
   * 5 arrive without the program, and the socket counts 6 received. The host runs in
   * always-defragment mode (counting connections needs a whole first fragment; on Linux, connection
   * tracking reassembles anyway).
   *
   * <p>If it fails: a packet diverted past the third means the backend counts one direction only
   * (or each connection's directions apart), or counts per rule or per chain; a third packet not
   * diverted means it counts packets twice (at each chain, or again when written back); the second
   * connection's first packets not diverted means connections share one count.
   *
   * @param tck the test bed and settings of this run
   * @throws Exception a failure of the backend under test, which fails the test
   */
  @Test
  @SpecRule(id = "S68", capabilities = Capability.FLOW_COUNT)
  public void S68_flowPacketsCountsEachConnectionInBothDirections(TckContext tck) throws Exception {
    try (TestBed bed = tck.testBed(defragment())) {
      FlowConversation.run(bed, probe(bed, tck));
    }
  }

  private static void checkTable(TckContext tck, Map<String, String> table, String kinds)
      throws Exception {
    try (TestBed bed = tck.testBed()) {
      Probe p = probe(bed, tck);
      Bench b = new Bench(bed, p, tck.timeout());
      FilterContext context =
          new FilterContext()
              .set(
                  Direction.INBOUND,
                  false,
                  b.values.containsKey("ifidx") ? Integer.parseInt(b.values.get("ifidx")) : 0);
      List<String> wrong = new ArrayList<>();
      int cases = 0;
      for (Map.Entry<String, String> row : table.entrySet()) {
        String text = FilterCases.fill(row.getKey(), b.values);
        Filter reference = Filter.parse(text);
        Map<Character, Boolean> got = b.verdicts(text, kinds);
        for (char k : kinds.toCharArray()) {
          boolean want = row.getValue().indexOf(k) >= 0;
          boolean ref = reference.matches(ByteBuffer.wrap(b.packets.get(k)), context);
          cases++;
          if (ref != want) {
            wrong.add(
                "'"
                    + text
                    + "' on "
                    + k
                    + ": the reference evaluator says "
                    + ref
                    + ", the table "
                    + want);
          }
          if (got.get(k) != want) {
            wrong.add(
                "'"
                    + text
                    + "' on "
                    + k
                    + ": "
                    + (want
                        ? "should divert, the packet went to the catch-all rule"
                        : "should not divert, the filter's rule took it"));
          }
        }
      }
      assertTrue(cases >= table.size() * kinds.length());
      if (!wrong.isEmpty()) {
        fail(wrong.size() + " of " + cases + " cases wrong:\n  " + String.join("\n  ", wrong));
      }
    }
  }

  /**
   * The sockets, the packets and the placeholders of one test bed. Each filter F gets a round of
   * its own: fresh IP identifications {@code a..b} for its packets, and two rules appended to the
   * input chain, {@code input filter "(F) and ip.Id >= a and ip.Id <= b" -j DIVERT <its port>} and
   * {@code input filter "ip.Id >= a and ip.Id <= b" -j DIVERT 4099}. The rules of earlier rounds
   * match none of this round's packets, so a packet on the round's port was diverted by F, and one
   * on port 4099 was not. Rules are never removed nor inserted (S3 and S5 are not what area M
   * verifies).
   */
  private static final class Bench {
    private static final int CATCH_ALL = PORT - 1;
    private static final int ROUND = 16;

    private final TestBed bed;
    private final Probe probe;
    private final Duration timeout;
    private final List<DivertSocket> sockets = new ArrayList<>();
    final Map<Character, byte[]> packets = new LinkedHashMap<>();
    final Map<String, String> values = new HashMap<>();
    private int nextPort = PORT;
    private int nextId = 1000;

    Bench(TestBed bed, Probe probe, Duration timeout) throws DivertException {
      this.bed = bed;
      this.probe = probe;
      this.timeout = timeout;
      sockets.add(bed.host().bind(CATCH_ALL));
      // area M's cases are IPv4 packets: the probe of a verification without families is IPv4's
      Inet4Address host = (Inet4Address) probe.host();
      Inet4Address peer = (Inet4Address) probe.peer();
      values.put("peer", probe.peer().getHostAddress());
      values.put("host", host.getHostAddress());
      values.put("net", Ipv4.toString(Ipv4.toInt(host) & 0xffffff00) + "/24");
      values.put("ifidx", Integer.toString(probe.hostInterface(host).index()));
      for (char k : FilterCases.KINDS.toCharArray()) {
        packets.put(k, FilterCases.packet(k, peer, host, 0));
      }
    }

    /**
     * Sends each packet of the given kinds once with the filter's rule in front; true where the
     * filter's rule diverted it.
     */
    Map<Character, Boolean> verdicts(String filter, String kinds) throws Exception {
      int port = nextPort++;
      int first = nextId;
      nextId += ROUND;
      String round = "ip.Id >= " + first + " and ip.Id <= " + (first + ROUND - 1);
      DivertSocket mine = bed.host().bind(port);
      sockets.add(mine);
      bed.host()
          .addRule(
              DivertRule.on(Chain.INPUT).filter("(" + filter + ") and " + round).divertTo(port));
      bed.host().addRule(DivertRule.on(Chain.INPUT).filter(round).divertTo(CATCH_ALL));
      Map<Integer, Character> pending = new HashMap<>();
      Map<Character, Boolean> got = new LinkedHashMap<>();
      int id = first;
      for (char k : kinds.toCharArray()) {
        pending.put(id, k);
        bed.peer()
            .sendRaw(
                ByteBuffer.wrap(
                    FilterCases.packet(
                        k, (Inet4Address) probe.peer(), (Inet4Address) probe.host(), id)));
        id++;
      }
      // Until the deadline, wait for the packets; after it, read on pass after pass until a pass
      // over every socket finds nothing, however long that takes. What arrived in time is read
      // even when this thread gets no CPU for longer than the timeout (a loaded machine; the
      // simulation has queued every packet before sendRaw returns). A count, not a time, stops a
      // backend that never stops handing out packets.
      long deadline = System.nanoTime() + timeout.toNanos();
      int lateReads = 0;
      while (!pending.isEmpty()) {
        boolean late = System.nanoTime() >= deadline;
        int read = 0;
        for (DivertSocket s : sockets) {
          read += take(s, s == mine, pending, got) ? 1 : 0;
        }
        if (late) {
          lateReads += read;
          if (read == 0 || lateReads > Probe.DRAIN_LIMIT) {
            break;
          }
        } else if (read == 0) {
          java.util.concurrent.locks.LockSupport.parkNanos(200_000);
        }
      }
      if (!pending.isEmpty()) {
        fail(
            "filter '"
                + filter
                + "': packets "
                + pending.values()
                + " reached neither the filter's port nor the catch-all port within "
                + timeout.toMillis()
                + " ms");
      }
      return got;
    }

    private boolean take(
        DivertSocket s,
        boolean diverted,
        Map<Integer, Character> pending,
        Map<Character, Boolean> got)
        throws DivertException {
      Probe.Received r = probe.receive(s, Duration.ZERO);
      if (r == null) {
        return false;
      }
      s.drop(r.address()); // release it: a socket holds a bounded number of packets (S15)
      if (r.bytes().length >= 20) {
        int id = ((r.bytes()[4] & 0xff) << 8) | (r.bytes()[5] & 0xff);
        Character k = pending.remove(id);
        if (k != null) {
          got.put(k, diverted);
        }
      }
      return true;
    }
  }
}
