package org.divert4j.linux.testbed;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.nio.channels.Channel;
import org.divert4j.linux.Native;

/**
 * Turns a socket a {@link NamespaceBroker} made inside another namespace into a Java channel: a TCP
 * channel is opened here (a socket of this JVM's namespace), and its descriptor is replaced, with
 * {@code dup3(2)}, by the broker's socket of the same family and type, so the channel works on the
 * namespace's socket from then on. The JDK has no public way to make a channel from a descriptor,
 * so the channel's descriptor number is read through the JDK's internal {@code
 * sun.nio.ch.SelChImpl#getFDVal}, which needs {@code --add-exports
 * java.base/sun.nio.ch=ALL-UNNAMED}; without it TCP is refused with that reason. Test beds only.
 */
final class BrokeredChannels {
  private BrokeredChannels() {}

  /** What a cleanup of a half-made channel may throw. */
  @FunctionalInterface
  interface Cleanup {
    void run() throws IOException;
  }

  /**
   * Makes {@code channel} use {@code fd}, which it then owns.
   *
   * @param channel a new, unconnected, unbound channel of the same family and type as {@code fd}
   * @param fd a socket descriptor, closed here in every case
   * @param onFailure closes the channel if this fails
   * @throws UnsupportedOperationException if the JDK's descriptor cannot be reached (the reason)
   * @throws IOException if dup3 fails
   */
  static void adopt(Channel channel, int fd, Cleanup onFailure) throws IOException {
    try {
      int target;
      try {
        Class<?> sel = Class.forName("sun.nio.ch.SelChImpl");
        target = (int) sel.getMethod("getFDVal").invoke(channel);
      } catch (ClassNotFoundException
          | NoSuchMethodException
          | IllegalAccessException
          | InvocationTargetException
          | RuntimeException e) {
        throw new UnsupportedOperationException(
            "TCP in a namespace only a broker reaches needs the JVM option --add-exports"
                + " java.base/sun.nio.ch=ALL-UNNAMED ("
                + e
                + ")",
            e);
      }
      Native.dup3(fd, target);
    } catch (IOException | RuntimeException e) {
      onFailure.run();
      throw e;
    } finally {
      Native.close(fd);
    }
  }
}
