package org.divert4j.rawsocket;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import org.divert4j.DivertAddress;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.HostOptions;

/**
 * Run in a child JVM by {@link LifecycleTest}: opens a host, adds rules, optionally injects a
 * datagram inbound at the address given as second argument, and waits to be killed.
 */
public final class CrashChild {
  private CrashChild() {}

  public static void main(String[] args) throws Exception {
    HostOptions o = HostOptions.builder().property("rawsocket.netns", args[0]).build();
    DivertHost h = new RawSocketProvider().open(o);
    h.addRule(DivertRule.parse("input -p icmp -j DIVERT 4444"));
    h.addRule(DivertRule.parse("output -p udp -j DIVERT 4445"));
    DivertSocket s = h.bind(4444);
    if (args.length > 1) {
      // inject one datagram inbound on the interface with address args[1] (its injection pair
      // stays behind when this JVM is killed)
      Inet4Address at = (Inet4Address) InetAddress.getByName(args[1]);
      byte[] p = new byte[28];
      p[0] = 0x45;
      p[3] = 28;
      p[8] = 64;
      p[9] = 17;
      System.arraycopy(new byte[] {(byte) 192, 0, 2, 1}, 0, p, 12, 4); // from TEST-NET-1
      System.arraycopy(at.getAddress(), 0, p, 16, 4);
      p[21] = 9; // UDP 9 -> 9, discard
      p[23] = 9;
      p[25] = 8;
      s.send(ByteBuffer.wrap(p), DivertAddress.inbound(at));
    }
    System.out.println("READY " + h.name());
    System.out.flush();
    Thread.sleep(120_000);
  }
}
