package org.divert4j.tck;

import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.divert4j.Ipv4;

/**
 * The packets and filters of area M (S64, S65): eight IPv4 packets from the peer to the host, each
 * with a distinct IP identification, and filters with the packets each must select, written by hand
 * from WinDivert's field definitions. Placeholders {@code ${peer}}, {@code ${host}}, {@code ${net}}
 * (the host's /24) and {@code ${ifidx}} (the host interface's index) are filled in per test bed.
 */
final class FilterCases {
  /** Packet kinds, by letter. */
  static final String KINDS = "USTIFLXQ";

  /** The kinds that are whole datagrams (no fragments). */
  static final String WHOLE = "USTIXQ";

  static final int TCP = 6;
  static final int SYN = 0x02;
  static final int PSH = 0x08;
  static final int ACK = 0x10;

  /** A TLS record header and the start of a ClientHello: what DPI filters look for. */
  static final byte[] TLS = {0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00};

  private FilterCases() {}

  /**
   * Builds the packet of a kind.
   *
   * <ul>
   *   <li>U: UDP 7001 to 53, payload "hello", DF
   *   <li>S: TCP 40000 to 443, SYN, no payload, DF
   *   <li>T: TCP 40000 to 443, ACK PSH, a TLS ClientHello's first 9 bytes, DF
   *   <li>I: ICMP echo request, 56 zero bytes, DF
   *   <li>F: UDP 7001 to 7000, first fragment (MF, offset 0), 16 bytes
   *   <li>L: UDP, a later fragment (offset 16), 16 bytes
   *   <li>X: protocol 253, 12 zero bytes
   *   <li>Q: UDP 7001 to 7000, TTL 3, TOS 0x10, payload "A"
   * </ul>
   */
  static byte[] packet(char kind, Inet4Address peer, Inet4Address host, int id) {
    int src = Ipv4.toInt(peer);
    int dst = Ipv4.toInt(host);
    Packets.Ip ip;
    switch (kind) {
      case 'U' -> ip = Packets.udp(peer, host, 7001, 53, bytes("hello")).flags(Packets.DF);
      case 'S' -> ip = tcp(peer, host, 40000, 443, SYN, new byte[0]).flags(Packets.DF);
      case 'T' -> ip = tcp(peer, host, 40000, 443, ACK | PSH, TLS).flags(Packets.DF);
      case 'I' ->
          ip =
              Packets.icmpEcho(peer, host, Packets.ECHO_REQUEST, 0x77, 1, new byte[56])
                  .flags(Packets.DF);
      case 'F', 'L' -> {
        byte[] whole = Packets.udpSegment(src, dst, 7001, 7000, new byte[24]);
        ip = Packets.udp(peer, host, 7001, 7000, new byte[24]);
        byte[] part = new byte[16];
        System.arraycopy(whole, kind == 'F' ? 0 : 16, part, 0, 16);
        ip.payload = part;
        if (kind == 'F') {
          ip.flags(Packets.MF);
        } else {
          ip.offset(16);
        }
      }
      case 'X' -> {
        ip = new Packets.Ip();
        ip.protocol = 253;
        ip.source = src;
        ip.destination = dst;
        ip.payload = new byte[12];
      }
      case 'Q' -> ip = Packets.udp(peer, host, 7001, 7000, bytes("A")).ttl(3).tos(0x10);
      default -> throw new IllegalArgumentException("no packet kind " + kind);
    }
    return ip.id(id).build();
  }

  static Packets.Ip tcp(
      Inet4Address src, Inet4Address dst, int sport, int dport, int flags, byte[] data) {
    Packets.Ip ip = new Packets.Ip();
    ip.protocol = TCP;
    ip.source = Ipv4.toInt(src);
    ip.destination = Ipv4.toInt(dst);
    ip.payload = Packets.tcpSegment(ip.source, ip.destination, sport, dport, flags, data);
    return ip;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  }

  /**
   * S64: filter, and the packet kinds it selects among {@link #WHOLE}. At least 100 filter x packet
   * cases.
   */
  static Map<String, String> table() {
    Map<String, String> t = new LinkedHashMap<>();
    t.put("true", "USTIFLXQ");
    t.put("false", "");
    t.put("tcp", "ST");
    t.put("udp", "UFLQ");
    t.put("icmp", "I");
    t.put("ip and not ipv6 and not icmpv6", "USTIFLXQ");
    t.put("inbound and !outbound and !loopback", "USTIFLXQ");
    t.put("udp.DstPort == 53", "U");
    t.put("tcp.DstPort == 443 and tcp.Syn and not tcp.Ack", "S");
    t.put("tcp.PayloadLength > 0 and tcp.Payload[0] == 0x16 and tcp.Payload[5] == 1", "T");
    t.put("(tcp.Psh ? tcp.Payload16[0] == 0x1603 : udp.DstPort == 53)", "TU");
    t.put("icmp.Type == 8 and icmp.Code == 0", "I");
    t.put("ip.TTL < 10 or ip.TOS == 0x10", "Q");
    t.put("ip.DF", "USTI");
    t.put("ip.Protocol == 253", "X");
    t.put("ip.SrcAddr == ${peer} and ip.DstAddr == ${host}", "USTIFLXQ");
    t.put("ip.DstAddr == ${net} and ip.SrcAddr != ${host}", "USTIFLXQ");
    t.put("ip.SrcAddr == ${host}", "");
    t.put("ifIdx == ${ifidx}", "USTIFLXQ");
    t.put("udp.PayloadLength == 5 and udp.Payload[-1] == 0x6f", "U");
    t.put("length > 60", "I");
    t.put("packet[9] == UDP", "UFLQ");
    t.put("packet[-1] == 0x41", "Q");
    t.put(
        "(tcp or udp) and not fragment and (tcp.SrcPort == 40000 or udp.SrcPort == 7001)", "USTQ");
    t.put("not (tcp.DstPort == 443 or udp.DstPort == 53)", "IFLXQ");
    t.put("tcp.DstPort > 442 && tcp.DstPort < 444 || icmp", "STI");
    t.put("udp.Length == 13", "U");
    t.put("-1 < ip.TTL", "USTIFLXQ");
    t.put("ip.Length == packet16[1] and ip.HdrLength == 5", "USTIFLXQ");
    t.put("tcp.HdrLength == 5 and tcp.Window == 65535", "ST");
    t.put("tcp.SeqNum == 1000 and tcp.AckNum == 2000", "ST");
    return t;
  }

  /**
   * S64, tried as a new user would: the filters of WinDivert 2.x's documentation and samples that
   * use fields with a meaning here, as written there, and the same with the direction and port
   * turned to the test bed's inbound traffic to port 443 or 53 (the originals select outbound
   * traffic, so none of the inbound packets). Sources: the documentation's filter examples ({@code
   * outbound and !loopback and (tcp.DstPort == 80 or udp.DstPort == 53)}, {@code inbound and
   * tcp.Syn}), its introduction's URL-blacklist filter ({@code outbound and tcp.PayloadLength > 0
   * and tcp.DstPort == 80}), {@code true} of the passthru and netdump samples, and the TLS
   * ClientHello test zapret-like tools write ({@code tcp.Payload[0] == 22 and tcp.Payload[5] ==
   * 1}).
   */
  static Map<String, String> windivertExamples() {
    Map<String, String> t = new LinkedHashMap<>();
    t.put("outbound and !loopback and (tcp.DstPort == 80 or udp.DstPort == 53)", "");
    t.put("inbound and !loopback and (tcp.DstPort == 443 or udp.DstPort == 53)", "UST");
    t.put("inbound and tcp.Syn", "S");
    t.put("outbound and tcp.PayloadLength > 0 and tcp.DstPort == 80", "");
    t.put("inbound and tcp.PayloadLength > 0 and tcp.DstPort == 443", "T");
    t.put("true", "USTIFLXQ");
    t.put("tcp.DstPort == 443 and tcp.Payload[0] == 22 and tcp.Payload[5] == 1", "T");
    return t;
  }

  /** S65: tests on fields the packet does not have are false; their negation is true. */
  static Map<String, String> missing() {
    Map<String, String> t = new LinkedHashMap<>();
    t.put("tcp.DstPort == 443", "ST");
    t.put("not tcp.DstPort == 443", "UIFLXQ");
    t.put("udp.DstPort == 7000", "FQ");
    t.put("not udp.DstPort == 7000", "USTILX");
    t.put("udp.DstPort != 7000", "U");
    t.put("udp.Payload[100] == 0", "");
    t.put("not udp.Payload[100] == 0", "USTIFLXQ");
    t.put("icmp.Type == 8", "I");
    t.put("not icmp.Type == 8", "USTFLXQ");
    t.put("ipv6.SrcAddr == ::", "");
    t.put("not ipv6.SrcAddr == ::", "USTIFLXQ");
    t.put("(udp.SrcPort == 7001 ? true : udp)", "UFQL");
    t.put("fragment", "FL");
    t.put("ip.MF || ip.FragOff > 0", "FL");
    t.put("udp and not fragment", "UQ");
    return t;
  }

  static String fill(String filter, Map<String, String> values) {
    String f = filter;
    for (Map.Entry<String, String> e : values.entrySet()) {
      f = f.replace("${" + e.getKey() + "}", e.getValue());
    }
    return f;
  }

  private static final String[] FIELDS = {
    "ip",
    "tcp",
    "udp",
    "icmp",
    "fragment",
    "inbound",
    "outbound",
    "loopback",
    "tcp.DstPort",
    "tcp.SrcPort",
    "tcp.Syn",
    "tcp.Ack",
    "tcp.Psh",
    "tcp.PayloadLength",
    "udp.DstPort",
    "udp.SrcPort",
    "udp.PayloadLength",
    "ip.TTL",
    "ip.TOS",
    "ip.Protocol",
    "ip.DF",
    "ip.MF",
    "ip.FragOff",
    "icmp.Type",
    "length",
    "packet[0]",
    "packet[-1]",
    "packet16[1]",
    "tcp.Payload[0]",
    "udp.Payload[-1]",
    "udp.Payload16[0]",
    "ipv6.HopLimit"
  };
  private static final String[] VALUES = {
    "0", "1", "2", "3", "8", "16", "17", "53", "443", "7000", "7001", "40000", "64", "0x10", "0x41",
    "0x16", "-1", "TCP", "UDP", "65535"
  };
  private static final String[] OPS = {"==", "!=", "<", "<=", ">", ">="};

  /** A random filter over the fields the packets of {@link #packet} exercise. */
  static String randomFilter(Random r, int depth) {
    switch (depth <= 0 ? 0 : r.nextInt(6)) {
      case 1:
        return "not " + randomFilter(r, depth - 1);
      case 2:
        return "(" + randomFilter(r, depth - 1) + " and " + randomFilter(r, depth - 1) + ")";
      case 3:
        return "(" + randomFilter(r, depth - 1) + " or " + randomFilter(r, depth - 1) + ")";
      case 4:
        return "("
            + randomFilter(r, depth - 1)
            + " ? "
            + randomFilter(r, depth - 1)
            + " : "
            + randomFilter(r, depth - 1)
            + ")";
      default:
        String f = FIELDS[r.nextInt(FIELDS.length)];
        return r.nextInt(4) == 0
            ? f
            : f + " " + OPS[r.nextInt(OPS.length)] + " " + VALUES[r.nextInt(VALUES.length)];
    }
  }

  /** Random filters that the reference evaluator neither always accepts nor always rejects. */
  static List<String> randomFilters(Random r, int n) {
    List<String> out = new ArrayList<>();
    while (out.size() < n) {
      out.add(randomFilter(r, 1 + r.nextInt(3)));
    }
    return out;
  }
}
