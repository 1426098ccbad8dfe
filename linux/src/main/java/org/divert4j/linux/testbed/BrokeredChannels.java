package org.divert4j.linux.testbed;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.nio.channels.Channel;
import org.divert4j.linux.Native;
import org.divert4j.linux.SocketOptions;

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

  /** SO_DOMAIN (asm-generic/socket.h): the family a socket was made with. */
  private static final int SO_DOMAIN = 39;

  /**
   * Makes {@code channel} use a TCP socket made in {@code netns}, of the family the JDK chose for
   * the channel (AF_INET6, or AF_INET when the JDK runs without IPv6), read from the channel's own
   * socket ({@code SO_DOMAIN}), so that the channel's addresses fit the socket.
   *
   * @param channel a new, unconnected, unbound TCP channel
   * @param netns the namespace to make the socket in
   * @param onFailure closes the channel if this fails
   * @throws UnsupportedOperationException if the JDK's descriptor cannot be reached (the reason)
   * @throws IOException if the socket cannot be made or dup3 fails
   */
  static void adoptTcp(Channel channel, Netns netns, Cleanup onFailure) throws IOException {
    int fd = -1;
    try {
      int target = descriptor(channel);
      int domain = SocketOptions.getIntOption(target, Native.SOL_SOCKET, SO_DOMAIN);
      fd = netns.socket(domain, Native.SOCK_STREAM, Native.IPPROTO_TCP);
      Native.dup3(fd, target);
    } catch (IOException | RuntimeException e) {
      onFailure.run();
      throw e;
    } finally {
      Native.close(fd);
    }
  }

  private static int descriptor(Channel channel) {
    try {
      Class<?> sel = Class.forName("sun.nio.ch.SelChImpl");
      return (int) sel.getMethod("getFDVal").invoke(channel);
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
  }
}
