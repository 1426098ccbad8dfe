package org.divert4j.linux.testbed;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The messages between a {@link NamespaceBroker} and its clients: each message is a list of strings
 * (a request: the operation's name and its arguments; a reply: {@code ok} and the results, or
 * {@code error} and the message), as a count and then each string's UTF-8 length and bytes, all
 * big-endian ints. A reply to {@code socket} carries the descriptor ({@code SCM_RIGHTS}).
 */
final class BrokerWire {
  static final String OK = "ok";
  static final String ERROR = "error";

  private BrokerWire() {}

  static byte[] encode(List<String> strings) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeInt(strings.size());
      for (String s : strings) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
      }
    } catch (IOException e) {
      throw new AssertionError("a byte array stream does not fail", e);
    }
    return bytes.toByteArray();
  }

  static List<String> decode(byte[] message) throws IOException {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(message))) {
      int n = in.readInt();
      if (n < 0 || n > message.length / 4) {
        throw new IOException("not a broker message: " + n + " strings");
      }
      List<String> strings = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        int len = in.readInt();
        if (len < 0 || len > message.length) {
          throw new IOException("not a broker message: a string of " + len + " bytes");
        }
        byte[] b = in.readNBytes(len);
        if (b.length != len) {
          throw new IOException("not a broker message: cut in a string");
        }
        strings.add(new String(b, StandardCharsets.UTF_8));
      }
      if (in.available() != 0) {
        throw new IOException("not a broker message: " + in.available() + " bytes left over");
      }
      return strings;
    }
  }
}
