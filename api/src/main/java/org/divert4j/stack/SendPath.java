package org.divert4j.stack;

import java.net.Inet6Address;
import java.nio.ByteBuffer;
import org.divert4j.Chain;
import org.divert4j.DivertException;
import org.divert4j.Ipv4;
import org.divert4j.NoRouteException;
import org.divert4j.PacketTooLargeException;
import org.divert4j.packet.Ipv4View;
import org.divert4j.packet.Ipv6View;

/**
 * The socket side of the engine (SEMANTICS.md sections F to J): a program's send checks the packet
 * (S31, S47, S62), copies it into a pooled buffer, applies the header fix-ups (S38-S40, S61), and
 * then writes a held packet back where it was diverted (resuming after its rule, S43, S44) or
 * injects a new one: outbound through routing, the MTU check (S27-S30) and the output chain, or
 * inbound at an interface address (S33, S53, S60). It also drops held packets for a program. Errors
 * are the socket's exceptions (section J). Used by {@link EngineSocket}; takes the engine's section
 * itself.
 */
final class SendPath {
  /** The largest IPv6 packet without a Jumbo Payload option: the header plus 65535 (S31, S59). */
  static final int IPV6_MAX = Ipv6View.HEADER_LENGTH + Ipv6View.MAX_PAYLOAD_LENGTH;

  private final StackEnvironment env;
  private final EngineInterfaces interfaces;
  private final RuleTable rules;
  private final PacketPath path;
  private final FlowCounter flows;
  private final EngineHooks hooks;
  private final PacketPool pool = new PacketPool(64, 4);
  private final Ipv4View view = new Ipv4View();
  private final Ipv6View view6 = new Ipv6View();

  SendPath(
      StackEnvironment env,
      EngineInterfaces interfaces,
      RuleTable rules,
      PacketPath path,
      FlowCounter flows,
      EngineHooks hooks) {
    this.env = env;
    this.interfaces = interfaces;
    this.rules = rules;
    this.path = path;
    this.flows = flows;
    this.hooks = hooks;
  }

  /**
   * Sends for a socket: writes a held packet back, or injects a new one (see {@link
   * org.divert4j.DivertSocket#send}), with the program's mark if it gave one ({@link
   * org.divert4j.PacketBatch#mark}), else the held packet's (0 for a new one).
   *
   * @param inboundAddress the IPv4 interface address to inject inbound at, 0 for none
   * @param inboundAddress6 the IPv6 interface address to inject inbound at, null for none
   */
  void send(
      EngineSocket s,
      ByteBuffer packet,
      long ticket,
      int inboundAddress,
      Inet6Address inboundAddress6,
      boolean withMark,
      int programMark)
      throws DivertException {
    int len = packet.remaining();
    boolean v6 = Ipv6Support.isIpv6(packet);
    if (v6 && len > IPV6_MAX) {
      throw new PacketTooLargeException(len, IPV6_MAX, "IPv6 maximum: 40 + 65535 bytes", 0);
    }
    if (!v6 && len > PacketTooLargeException.IPV4_MAX) {
      throw new PacketTooLargeException(len, PacketTooLargeException.IPV4_MAX, "", 0); // S31
    }
    env.enter();
    int saved = path.mark();
    try {
      s.checkOpen();
      if (v6) {
        view6.wrap(packet).validateForSend(); // S62, S59 (jumbograms)
      } else {
        view.wrap(packet).validateForSend(); // S47
      }
      ByteBuffer p = pool.copyOf(packet);
      try {
        hooks.fixUpHeader(p);
        boolean df = !v6 && (p.get(6) & 0x40) != 0;
        HeldPacket h = ticket != 0 ? s.held(ticket) : null;
        path.setMark(withMark ? programMark : h != null ? h.mark : 0);
        if (h != null) {
          reinject(s, h, p, df);
        } else if (inboundAddress6 != null) {
          int in = interfaces.withAddress6(inboundAddress6); // S60
          s.countInjected(len);
          path.input(p, in, 0, s.port, true); // S53: no MTU limit inbound
        } else if (inboundAddress == 0) {
          int out = routeOrThrow(p, 0);
          hooks.checkMtu(len, df, interfaces.at(out));
          s.countInjected(len);
          flows.enter(p, false); // S68: a new packet of its connection
          path.output(p, out, 0, s.port);
        } else {
          int in = interfaces.withAddress(inboundAddress);
          s.countInjected(len);
          path.input(p, in, 0, s.port, true); // S33, S53: no MTU limit inbound
        }
      } finally {
        pool.give(p);
      }
      packet.position(packet.limit());
    } finally {
      path.setMark(saved);
      env.exit();
    }
  }

  private void reinject(EngineSocket s, HeldPacket h, ByteBuffer p, boolean df)
      throws DivertException {
    int len = p.remaining();
    Chain chain = h.chain;
    int resume = resumeIndex(chain, h.ruleId, h.ruleIndex);
    // resolve() frees the held slot: a receive on another thread may reuse it at once (it takes
    // only the socket's lock), so nothing is read from h after it
    int inIf = h.inIf;
    int origin = h.origin;
    int outIf = h.outIf;
    flows.resume(p); // S68: counted when it was taken
    switch (chain) {
      case INPUT -> {
        s.resolve(h, len);
        path.input(p, inIf, resume, origin, false);
      }
      case FORWARD -> {
        int out = routeOrThrow(p, outIf);
        s.resolve(h, len);
        path.forward(p, inIf, out, resume, origin);
      }
      case OUTPUT -> {
        int out = routeOrThrow(p, outIf);
        hooks.checkMtu(len, df, interfaces.at(out));
        s.resolve(h, len);
        path.output(p, out, resume, origin);
      }
    }
  }

  /** The rule's current position plus one, or where it was if it has been removed since. */
  private int resumeIndex(Chain chain, int ruleId, int ruleIndex) {
    RuleEntry[] chainRules = rules.rules(chain);
    if (ruleIndex < chainRules.length && chainRules[ruleIndex].id == ruleId) {
      return hooks.resumeAfter(ruleIndex);
    }
    for (int i = 0; i < chainRules.length; i++) {
      if (chainRules[i].id == ruleId) {
        return hooks.resumeAfter(i);
      }
    }
    return Math.min(ruleIndex, chainRules.length);
  }

  /**
   * @param linkInterface the interface of the packet's divert address: where a link-local IPv6
   *     destination leaves (S60); 0 for none
   */
  private int routeOrThrow(ByteBuffer p, int linkInterface) throws NoRouteException {
    if (Ipv6Support.isIpv6(p)) {
      int out = Ipv6Support.route(env, p, linkInterface);
      if (!interfaces.exists(out)) {
        throw Ipv6Support.noRoute(p); // S49, S60
      }
      return out;
    }
    int dst = p.getInt(p.position() + 16);
    int out = env.route(dst);
    if (!interfaces.exists(out)) {
      throw new NoRouteException(Ipv4.fromInt(dst), 0); // S49
    }
    return out;
  }

  /** Drops a packet the socket holds, if the ticket still names one. */
  void drop(EngineSocket s, long ticket) throws DivertException {
    env.enter();
    try {
      s.checkOpen();
      HeldPacket h = s.held(ticket);
      if (h != null) {
        s.dropHeld(h);
      }
    } finally {
      env.exit();
    }
  }
}
