package org.divert4j.rawsocket.internal;

import java.util.concurrent.locks.ReentrantLock;
import org.divert4j.DivertException;
import org.divert4j.linux.ErrnoException;
import org.divert4j.linux.Errors;

/**
 * The socket's send lock and the verdicts of all its lanes: a verdict given at once on the receive
 * path, and the flush of every lane's pending verdicts at the end of a send call (one system call
 * per lane). Lock order: a lane's receive lock, then this lock, then the ticket lock.
 */
final class Verdicts {
  private final ReentrantLock lock = new ReentrantLock();
  private final Lane[] lanes;
  private final SocketState state;

  Verdicts(Lane[] lanes, SocketState state) {
    this.lanes = lanes;
    this.state = state;
  }

  /**
   * @return the send lock: held by sends, drops, expiry and verdicts
   */
  ReentrantLock lock() {
    return lock;
  }

  /**
   * Gives one verdict at once (receive path: packets that are not for the program). Takes the send
   * lock; does nothing once the socket is closed (the kernel drops what it still holds).
   *
   * @throws DivertException if the kernel refused the verdict
   */
  void now(Lane l, int id, int verdict) throws DivertException {
    lock.lock();
    try {
      if (state.closed()) {
        return;
      }
      l.verdicts.flushRun();
      try {
        l.verdicts.append(id, verdict, false, 0);
        l.verdicts.flush();
      } catch (ErrnoException e) {
        throw error(e);
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Sends every lane's pending verdicts. Send lock held.
   *
   * @throws DivertException the first lane's failure, after all lanes were tried
   */
  void flushAll() throws DivertException {
    DivertException first = null;
    for (Lane l : lanes) {
      l.verdicts.flushRun();
      if (l.verdicts.pending()) {
        try {
          l.verdicts.flush();
        } catch (ErrnoException e) {
          first = first == null ? error(e) : first;
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  private DivertException error(ErrnoException e) {
    if (state.closed()) {
      return state.closedException();
    }
    return Errors.generic("verdict on divert port " + state.port(), e);
  }
}
