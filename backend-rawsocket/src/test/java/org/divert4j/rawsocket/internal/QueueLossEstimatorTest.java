package org.divert4j.rawsocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.divert4j.DropReason;
import org.divert4j.SocketStats;
import org.junit.jupiter.api.Test;

class QueueLossEstimatorTest {
  /** One socket: its lanes (queues), their line counter and the estimator. */
  private static final class Socket {
    final FakeNfqueue[] lanes;
    final QueueLossEstimator est;

    Socket(FakeNfqueue... lanes) {
      this.lanes = lanes;
      this.est = new QueueLossEstimator(lanes.length);
      est.armed(line());
    }

    long line() {
      long n = 0;
      for (FakeNfqueue q : lanes) {
        n += q.line;
      }
      return n;
    }

    /** What KernelSocket#observeLosses does: the counter first, then the lanes. */
    void observe() {
      observe(line());
    }

    /** The same with a counter read earlier. */
    void observe(long counter) {
      long[] issued = new long[lanes.length];
      long[] missed = new long[lanes.length];
      long[] enobufs = new long[lanes.length];
      boolean idle = true;
      long room = 0;
      for (int i = 0; i < lanes.length; i++) {
        FakeNfqueue q = lanes[i];
        int b = q.backlog();
        if (b == LaneBacklog.ERROR) {
          return;
        }
        idle &= b == LaneBacklog.IDLE;
        issued[i] = q.ids.issued();
        missed[i] = q.ids.missed();
        enobufs[i] = q.enobufs;
        room += q.maxlen() - q.held;
      }
      est.observe(counter, issued, missed, enobufs, idle, room);
    }

    long[] losses() {
      long missed = 0;
      for (FakeNfqueue q : lanes) {
        missed += q.ids.missed();
      }
      long[] out = new long[2];
      est.losses(missed, out);
      return out;
    }

    SocketStats stats(boolean failOpen) {
      long enobufs = 0;
      for (FakeNfqueue q : lanes) {
        enobufs += q.enobufs;
      }
      return new SocketLedger().stats(null, -1, new long[2], enobufs, 0, losses(), failOpen);
    }
  }

  @Test
  void nothingIsDerivedBeforeTheQueuesAreArmed() {
    QueueLossEstimator est = new QueueLossEstimator(1);
    est.armed(-1);
    assertFalse(est.active());
    est.observe(10, new long[1], new long[1], new long[1], true, 0);
    long[] out = new long[2];
    est.losses(0, out);
    assertEquals(0, out[0]);
  }

  @Test
  void aFullQueueThatWasReadEmptyCountsExactlyItsDrops() {
    // S15: queue length 2, five datagrams, the program reads two
    FakeNfqueue q = new FakeNfqueue(2, 1000, false);
    Socket s = new Socket(q);
    assertTrue(s.est.active());
    for (int i = 0; i < 5; i++) {
      q.packet();
    }
    q.drain();
    s.observe();
    SocketStats st = s.stats(false);
    assertEquals(3, st.dropped(DropReason.QUEUE_FULL), st.toString());
    assertEquals(0, st.dropped(DropReason.NO_BUFFER), st.toString());
    assertEquals(0, st.failOpenAccepted());
  }

  @Test
  void failOpenCountsWhatTheKernelAccepted() {
    FakeNfqueue q = new FakeNfqueue(2, 1000, true);
    Socket s = new Socket(q);
    for (int i = 0; i < 5; i++) {
      q.packet();
    }
    q.drain();
    s.observe();
    SocketStats st = s.stats(true);
    assertEquals(3, st.failOpenAccepted(), st.toString());
    assertEquals(0, st.dropped(DropReason.QUEUE_FULL), st.toString());
  }

  @Test
  void gapsAreNoBufferWithoutFailOpenAndAcceptsWithIt() {
    for (boolean failOpen : new boolean[] {false, true}) {
      FakeNfqueue q = new FakeNfqueue(1000, 3, failOpen);
      Socket s = new Socket(q);
      for (int i = 0; i < 6; i++) {
        q.packet(); // ids 1..3 delivered, 4..6 lost at the unicast
      }
      q.drain();
      for (int i = 0; i < 2; i++) {
        q.packet(); // ids 7 and 8 reveal the gap
      }
      q.drain();
      s.observe();
      SocketStats st = s.stats(failOpen);
      assertEquals(3, q.ids.missed());
      if (failOpen) {
        assertEquals(3, st.failOpenAccepted(), st.toString());
        assertEquals(0, st.dropped(DropReason.NO_BUFFER), st.toString());
      } else {
        assertEquals(3, st.dropped(DropReason.NO_BUFFER), st.toString());
        assertEquals(0, st.dropped(DropReason.QUEUE_FULL), st.toString());
      }
    }
  }

  @Test
  void lossesAtTheEndOfAnOverflowCountAsNoBufferAndOnlyOnce() {
    // S50: a burst overflows the socket buffer; its last packets are lost with no later id
    FakeNfqueue q = new FakeNfqueue(1000, 5, false);
    Socket s = new Socket(q);
    for (int i = 0; i < 20; i++) {
      q.packet();
    }
    q.drain();
    s.observe();
    long[] l = s.losses();
    assertEquals(0, q.ids.missed(), "no gap: the losses are all after the last id seen");
    assertEquals(15, l[0] + l[1]);
    assertEquals(15, l[1], "an overflow was reported: they are unicast losses");
    q.packet(); // id 21 reveals ids 6..20 as a gap
    q.drain();
    s.observe();
    l = s.losses();
    assertEquals(15, q.ids.missed());
    assertEquals(15, l[0] + l[1], "the revealed gap is not counted twice");
    assertEquals(q.userDropped, l[1]);
  }

  @Test
  void whilePacketsWaitUnreadTheQueueLengthBoundsThem() {
    // S15: queue length 8, two hundred datagrams, the program reads none
    FakeNfqueue q = new FakeNfqueue(8, 1000, false);
    Socket s = new Socket(q);
    for (int i = 0; i < 200; i++) {
      q.packet();
    }
    s.observe();
    assertEquals(192, s.losses()[0], "the 8 unread fill the queue: every other one got no id");
    q.receive();
    q.receive();
    q.verdict(); // one held, one written back, six unread: the queue has room for one more
    s.observe();
    assertEquals(192, s.losses()[0], "and never falls");
    q.drain();
    s.observe();
    assertEquals(192, s.losses()[0]);
    assertEquals(q.queueDropped, s.losses()[0]);
  }

  @Test
  void aPendingOverflowReportMakesTheObservationWait() {
    FakeNfqueue q = new FakeNfqueue(1000, 2, false);
    Socket s = new Socket(q);
    for (int i = 0; i < 5; i++) {
      q.packet(); // 1 and 2 delivered, 3 to 5 lost at the unicast, the overflow reported
    }
    s.observe();
    long[] l = s.losses();
    assertEquals(0, l[0] + l[1], "unread ids above the highest seen may be lost, not waiting");
    q.drain();
    s.observe();
    assertEquals(3, s.losses()[1]);
    assertEquals(0, s.losses()[0]);
  }

  @Test
  void queueBalanceAddsTheLanesOfTheChain() {
    FakeNfqueue a = new FakeNfqueue(2, 1000, false);
    FakeNfqueue b = new FakeNfqueue(2, 1000, false);
    Socket s = new Socket(a, b);
    for (int i = 0; i < 10; i++) {
      (i % 2 == 0 ? a : b).packet(); // --queue-balance spreads the chain's packets
    }
    a.drain();
    s.observe();
    assertEquals(6, s.losses()[0], "b's two unread packets are within its queue length");
    b.drain();
    s.observe();
    assertEquals(6, s.losses()[0]);
    assertEquals(a.queueDropped + b.queueDropped, s.losses()[0]);
  }

  @Test
  void underContinuingTrafficALowerBoundThatNeverFallsAndIsExactAfterAPause() {
    Random r = new Random(15);
    for (int run = 0; run < 200; run++) {
      boolean overflow = run % 2 == 1;
      FakeNfqueue[] lanes = new FakeNfqueue[1 + r.nextInt(3)];
      for (int i = 0; i < lanes.length; i++) {
        lanes[i] = new FakeNfqueue(2 + r.nextInt(6), overflow ? 1 + r.nextInt(6) : 1000, false);
      }
      Socket s = new Socket(lanes);
      long[] before = new long[2];
      for (int step = 0; step < 400; step++) {
        FakeNfqueue q = lanes[r.nextInt(lanes.length)];
        switch (r.nextInt(6)) {
          case 0, 1 -> q.packet();
          case 2 -> q.receive();
          case 3 -> q.verdict();
          case 4 -> s.observe();
          default -> {
            long counter = s.line(); // read before traffic goes on
            q.packet();
            for (FakeNfqueue l : lanes) {
              l.drain();
            }
            s.observe(counter);
          }
        }
        long[] now = s.losses();
        assertTrue(now[0] >= before[0] && now[1] >= before[1], "never falls");
        long dropped = 0;
        long user = 0;
        for (FakeNfqueue l : lanes) {
          dropped += l.queueDropped;
          user += l.userDropped;
        }
        assertTrue(now[0] + now[1] <= dropped + user, "a lower bound of the losses");
        if (!overflow) {
          assertTrue(now[0] <= dropped, "without overflow, a lower bound of the queue-full drops");
          assertEquals(user, 0);
        }
        before = now;
      }
      // traffic pauses; the program reads everything
      for (FakeNfqueue l : lanes) {
        l.drain();
      }
      s.observe();
      long[] end = s.losses();
      long total = 0;
      long dropped = 0;
      for (FakeNfqueue l : lanes) {
        total += l.lost();
        dropped += l.queueDropped;
      }
      assertEquals(total, end[0] + end[1], "exact once the socket is read empty after a pause");
      if (!overflow) {
        assertEquals(dropped, end[0], "and without overflow the queue-full count is exact");
      }
    }
  }
}
