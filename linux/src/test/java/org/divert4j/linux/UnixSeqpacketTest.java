package org.divert4j.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Messages keep their boundaries, a descriptor passed with one is a working copy of the same
 * socket, and the peer's credentials are the connecting process's (no privilege needed).
 */
class UnixSeqpacketTest {
  @Test
  void passesMessagesAndADescriptor() throws Exception {
    Path dir = Files.createTempDirectory("d4j-seqpacket-");
    Path sock = dir.resolve("s");
    int udp = -1;
    try (UnixSeqpacket listener = UnixSeqpacket.listen(sock);
        UnixSeqpacket client = UnixSeqpacket.connect(sock);
        UnixSeqpacket server = listener.accept(5000)) {
      assertNotNull(server, "the connection is accepted");
      int[] cred = server.peerCredentials();
      assertEquals(ProcessHandle.current().pid(), cred[0], "SO_PEERCRED: this process");
      client.send(new byte[] {1, 2, 3}, -1);
      client.send(new byte[] {4}, -1);
      UnixSeqpacket.Message a = server.receive();
      UnixSeqpacket.Message b = server.receive();
      assertArrayEquals(new byte[] {1, 2, 3}, a.data(), "boundaries kept");
      assertArrayEquals(new byte[] {4}, b.data());
      assertEquals(-1, a.fd(), "no descriptor sent, none received");

      // a UDP socket bound to a port, passed: the copy reports the same bound port
      udp = Datagrams.socket(Native.AF_INET, Native.SOCK_DGRAM, Native.IPPROTO_UDP);
      ByteBuffer sa = Native.allocate(Native.SIZEOF_SOCKADDR_IN);
      sa.putShort(0, (short) Native.AF_INET);
      sa.put(4, (byte) 127);
      sa.put(7, (byte) 1);
      Datagrams.bind(udp, sa);
      server.send("here".getBytes(), udp);
      UnixSeqpacket.Message withFd = client.receive();
      assertEquals("here", new String(withFd.data()));
      assertTrue(withFd.fd() >= 0, "a descriptor came");
      assertNotEquals(udp, withFd.fd(), "a new descriptor number for the same socket");
      try {
        assertEquals(
            SocketOptions.getIntOption(udp, Native.SOL_SOCKET, 39), // SO_PROTOCOL
            SocketOptions.getIntOption(withFd.fd(), Native.SOL_SOCKET, 39));
        assertEquals(
            SocketOptions.getIntOption(udp, Native.SOL_SOCKET, 3), // SO_TYPE
            SocketOptions.getIntOption(withFd.fd(), Native.SOL_SOCKET, 3));
      } finally {
        Native.close(withFd.fd());
      }
      client.close();
      assertNull(server.receive(), "the peer closed: end of stream");
    } finally {
      Native.close(udp);
      Files.deleteIfExists(sock);
      Files.deleteIfExists(dir);
    }
  }
}
