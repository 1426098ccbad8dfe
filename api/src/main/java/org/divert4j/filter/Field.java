package org.divert4j.filter;

import java.util.HashMap;
import java.util.Map;

/**
 * The fields of WinDivert 2.x's network layer that have a meaning here (SEMANTICS.md S64), with
 * their WinDivert names (case-sensitive, as in WinDivert).
 */
enum Field {
  ZERO("zero"),
  TRUE("true"),
  FALSE("false"),
  INBOUND("inbound"),
  OUTBOUND("outbound"),
  LOOPBACK("loopback"),
  IF_IDX("ifIdx"),
  LENGTH("length"),
  FRAGMENT("fragment"),
  /** Packets of the packet's connection so far, both directions, this one included (S68). */
  FLOW_PACKETS("flow.Packets"),
  PACKET("packet", 1),
  PACKET16("packet16", 2),
  PACKET32("packet32", 4),
  IP("ip"),
  IPV6("ipv6"),
  ICMP("icmp"),
  ICMPV6("icmpv6"),
  TCP("tcp"),
  UDP("udp"),
  IP_HDR_LENGTH("ip.HdrLength"),
  IP_TOS("ip.TOS"),
  IP_LENGTH("ip.Length"),
  IP_ID("ip.Id"),
  IP_DF("ip.DF"),
  IP_MF("ip.MF"),
  IP_FRAG_OFF("ip.FragOff"),
  IP_TTL("ip.TTL"),
  IP_PROTOCOL("ip.Protocol"),
  IP_CHECKSUM("ip.Checksum"),
  IP_SRC_ADDR("ip.SrcAddr"),
  IP_DST_ADDR("ip.DstAddr"),
  IPV6_TRAFFIC_CLASS("ipv6.TrafficClass"),
  IPV6_FLOW_LABEL("ipv6.FlowLabel"),
  IPV6_LENGTH("ipv6.Length"),
  IPV6_NEXT_HDR("ipv6.NextHdr"),
  IPV6_HOP_LIMIT("ipv6.HopLimit"),
  IPV6_SRC_ADDR("ipv6.SrcAddr"),
  IPV6_DST_ADDR("ipv6.DstAddr"),
  ICMP_TYPE("icmp.Type"),
  ICMP_CODE("icmp.Code"),
  ICMP_CHECKSUM("icmp.Checksum"),
  ICMP_BODY("icmp.Body"),
  ICMPV6_TYPE("icmpv6.Type"),
  ICMPV6_CODE("icmpv6.Code"),
  ICMPV6_CHECKSUM("icmpv6.Checksum"),
  ICMPV6_BODY("icmpv6.Body"),
  TCP_SRC_PORT("tcp.SrcPort"),
  TCP_DST_PORT("tcp.DstPort"),
  TCP_SEQ_NUM("tcp.SeqNum"),
  TCP_ACK_NUM("tcp.AckNum"),
  TCP_HDR_LENGTH("tcp.HdrLength"),
  TCP_URG("tcp.Urg"),
  TCP_ACK("tcp.Ack"),
  TCP_PSH("tcp.Psh"),
  TCP_RST("tcp.Rst"),
  TCP_SYN("tcp.Syn"),
  TCP_FIN("tcp.Fin"),
  TCP_WINDOW("tcp.Window"),
  TCP_CHECKSUM("tcp.Checksum"),
  TCP_URG_PTR("tcp.UrgPtr"),
  TCP_PAYLOAD_LENGTH("tcp.PayloadLength"),
  TCP_PAYLOAD("tcp.Payload", 1),
  TCP_PAYLOAD16("tcp.Payload16", 2),
  TCP_PAYLOAD32("tcp.Payload32", 4),
  UDP_SRC_PORT("udp.SrcPort"),
  UDP_DST_PORT("udp.DstPort"),
  UDP_LENGTH("udp.Length"),
  UDP_CHECKSUM("udp.Checksum"),
  UDP_PAYLOAD_LENGTH("udp.PayloadLength"),
  UDP_PAYLOAD("udp.Payload", 1),
  UDP_PAYLOAD16("udp.Payload16", 2),
  UDP_PAYLOAD32("udp.Payload32", 4);

  private static final Map<String, Field> BY_NAME = new HashMap<>();
  private static final Map<String, String> REFUSED = new HashMap<>();
  private static final Map<String, Integer> MACROS = new HashMap<>();

  static {
    for (Field f : values()) {
      BY_NAME.put(f.text, f);
    }
    String socketLayer =
        "it belongs to WinDivert's flow and socket layers; a packet at the network layer carries"
            + " no such value here";
    for (String n : new String[] {"processId", "endpointId", "parentEndpointId"}) {
      REFUSED.put(n, socketLayer);
    }
    String tuple = "use ip.*/ipv6.*, tcp.*/udp.* with inbound or outbound instead";
    for (String n : new String[] {"localAddr", "localPort", "remoteAddr", "remotePort"}) {
      REFUSED.put(n, "it belongs to WinDivert's flow and socket layers; " + tuple);
    }
    REFUSED.put("protocol", "it belongs to WinDivert's flow and socket layers; use ip.Protocol");
    REFUSED.put("impostor", "divert4j tells its own injections apart by mark instead (S43)");
    REFUSED.put("subIfIdx", "Linux has no sub-interface index");
    REFUSED.put("timestamp", "rules see no capture time");
    for (String n : new String[] {"event", "layer", "priority"}) {
      REFUSED.put(n, "divert4j has one layer and no handle priorities; rule order decides");
    }
    for (String n : new String[] {"random8", "random16", "random32"}) {
      REFUSED.put(n, "no backend offers WinDivert's packet hash in the kernel");
    }
    for (String n :
        new String[] {
          "PACKET",
          "ESTABLISHED",
          "DELETED",
          "BIND",
          "CONNECT",
          "ACCEPT",
          "LISTEN",
          "OPEN",
          "CLOSE",
          "NETWORK",
          "NETWORK_FORWARD",
          "FLOW",
          "SOCKET",
          "REFLECT"
        }) {
      REFUSED.put(n, "WinDivert's event and layer macros have no meaning here");
    }
    MACROS.put("TRUE", 1);
    MACROS.put("FALSE", 0);
    MACROS.put("TCP", 6);
    MACROS.put("UDP", 17);
    MACROS.put("ICMP", 1);
    MACROS.put("ICMPV6", 58);
  }

  final String text;

  /** Bytes of one word for indexed fields ({@code packet32[i]}: 4); 0 when not indexed. */
  final int wordSize;

  Field(String text) {
    this(text, 0);
  }

  Field(String text, int wordSize) {
    this.text = text;
    this.wordSize = wordSize;
  }

  boolean indexed() {
    return wordSize != 0;
  }

  boolean address() {
    return this == IP_SRC_ADDR
        || this == IP_DST_ADDR
        || this == IPV6_SRC_ADDR
        || this == IPV6_DST_ADDR;
  }

  static Field byName(String name) {
    return BY_NAME.get(name);
  }

  /**
   * @return why a WinDivert name is refused here, or null if it is not one
   */
  static String refusal(String name) {
    return REFUSED.get(name);
  }

  /**
   * @return the value of a WinDivert macro ({@code TCP}, {@code TRUE}, ...), or null
   */
  static Integer macro(String name) {
    return MACROS.get(name);
  }
}
