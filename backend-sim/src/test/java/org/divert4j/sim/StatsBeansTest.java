package org.divert4j.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Set;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.openmbean.CompositeData;
import javax.management.openmbean.TabularData;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.PacketBatch;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.Test;

/** Issue 16, monitoring: one MXBean per open host and socket, read through the platform server. */
class StatsBeansTest {
  private static final MBeanServer SERVER = ManagementFactory.getPlatformMBeanServer();

  private static Set<ObjectName> beans(String type, String host) throws Exception {
    return SERVER.queryNames(
        new ObjectName("org.divert4j:type=" + type + ",host=" + ObjectName.quote(host) + ",*"),
        null);
  }

  @Test
  void hostAndSocketCountersAreVisibleWhileOpenAndGoneAfterClose() throws Exception {
    try (TestBed bed = new SimProvider().testBed(TestBedOptions.builder().build())) {
      DivertHost host = bed.host();
      Set<ObjectName> hosts = beans("Host", host.name());
      assertEquals(1, hosts.size(), "one bean per host: " + hosts);
      ObjectName hostBean = hosts.iterator().next();
      assertEquals("sim", SERVER.getAttribute(hostBean, "Backend"));

      DivertSocket socket = host.bind(4100);
      host.addRule(DivertRule.parse("input -p udp --dport 5000 -j DIVERT 4100"));
      bed.peer().sendUdp(bed.hostNode().address(), 40000, 5000, new byte[10]);
      bed.peer().sendUdp(bed.hostNode().address(), 40000, 5000, new byte[10]);
      PacketBatch batch = PacketBatch.allocate(8);
      int n = 0;
      while (n < 2) {
        n += Math.max(0, socket.receive(batch, Duration.ofSeconds(5)));
      }
      socket.send(batch);

      Set<ObjectName> sockets = beans("Socket", host.name());
      assertEquals(1, sockets.size(), "one bean per socket: " + sockets);
      ObjectName socketBean = sockets.iterator().next();
      assertEquals("4100", socketBean.getKeyProperty("port"));
      assertEquals(hostBean.getKeyProperty("id"), socketBean.getKeyProperty("id"));
      assertEquals(2L, SERVER.getAttribute(socketBean, "Received"));
      assertEquals(2L, SERVER.getAttribute(socketBean, "Reinjected"));
      assertEquals(
          socket.stats().receivedBytes(), SERVER.getAttribute(socketBean, "ReceivedBytes"));
      assertEquals(0L, SERVER.getAttribute(socketBean, "Held"));
      assertTrue(((TabularData) SERVER.getAttribute(socketBean, "Dropped")).isEmpty());

      socket.close();
      assertFalse(SERVER.isRegistered(socketBean), "the socket's bean goes with the socket");
      assertTrue(SERVER.isRegistered(hostBean));
      host.close();
      assertFalse(SERVER.isRegistered(hostBean), "the host's bean goes with the host");
    }
  }

  @Test
  void dropsAreListedByReason() throws Exception {
    try (TestBed bed = new SimProvider().testBed(TestBedOptions.builder().build())) {
      DivertHost host = bed.host();
      DivertSocket socket = host.bind(4101);
      host.addRule(DivertRule.parse("input -p udp --dport 5001 -j DIVERT 4101"));
      bed.peer().sendUdp(bed.hostNode().address(), 40000, 5001, new byte[10]);
      PacketBatch batch = PacketBatch.allocate(8);
      while (socket.receive(batch, Duration.ofSeconds(5)) < 1) {
        // the simulation delivers at once; loop only on an empty wake-up
      }
      batch.drop(0);
      socket.send(batch);
      ObjectName bean = beans("Socket", host.name()).iterator().next();
      TabularData dropped = (TabularData) SERVER.getAttribute(bean, "Dropped");
      assertEquals(1L, SERVER.getAttribute(bean, "DroppedTotal"));
      assertEquals(1, dropped.size(), "one reason: " + dropped);
      CompositeData row = (CompositeData) dropped.values().iterator().next();
      assertEquals("PROGRAM", row.get("key"));
      assertEquals(1L, row.get("value"));
    }
  }
}
