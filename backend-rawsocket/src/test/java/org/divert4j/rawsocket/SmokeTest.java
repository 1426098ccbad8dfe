package org.divert4j.rawsocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.divert4j.DivertAddress;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.junit.jupiter.api.Test;

class SmokeTest {
  @Test
  void pingThroughPerFragmentInputRule() throws Exception {
    Root.assumeKernel();
    try (TestBed bed = new RawSocketProvider().testBed(TestBedOptions.defaults())) {
      System.out.println("rules: " + bed.host().rules());
      DivertSocket s = bed.host().bind(1234);
      bed.host().addRule(DivertRule.parse("input -p icmp -j DIVERT 1234"));
      List<String> seen = new ArrayList<>();
      AtomicBoolean stop = new AtomicBoolean();
      Thread t =
          new Thread(
              () -> {
                ByteBuffer b = ByteBuffer.allocateDirect(65535);
                while (!stop.get()) {
                  try {
                    b.clear();
                    DivertAddress a = s.receive(b, Duration.ofMillis(100));
                    if (a == null) {
                      continue;
                    }
                    b.flip();
                    int off = (b.getShort(6) & 0x1fff) * 8;
                    synchronized (seen) {
                      seen.add(a + " len " + b.remaining() + " off " + off);
                    }
                    s.send(b, a);
                  } catch (Exception e) {
                    e.printStackTrace();
                    return;
                  }
                }
              });
      t.start();
      boolean ok = bed.peer().ping(bed.hostNode().address(), 4000, Duration.ofSeconds(3));
      stop.set(true);
      t.join();
      System.out.println(seen);
      System.out.println(s.stats());
      assertTrue(ok);
      assertEquals(3, seen.size());
    }
  }
}
