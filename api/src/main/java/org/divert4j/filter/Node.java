package org.divert4j.filter;

import java.math.BigInteger;

/** The parsed filter: a tree of tests joined by not, and, or and {@code ? :}. */
sealed interface Node {
  /** Binding strength for printing: higher binds tighter. */
  int precedence();

  /** A comparison; {@code op == null} is a bare operand, which means {@code operand != 0}. */
  record Test(Operand left, Op op, Operand right) implements Node {
    @Override
    public int precedence() {
      return 4;
    }

    @Override
    public String toString() {
      return op == null ? left.toString() : left + " " + op.symbol + " " + right;
    }
  }

  record Not(Node operand) implements Node {
    @Override
    public int precedence() {
      return 3;
    }

    @Override
    public String toString() {
      return "not " + wrap(operand, 3);
    }
  }

  record And(Node left, Node right) implements Node {
    @Override
    public int precedence() {
      return 2;
    }

    @Override
    public String toString() {
      return wrap(left, 2) + " and " + wrap(right, 3);
    }
  }

  record Or(Node left, Node right) implements Node {
    @Override
    public int precedence() {
      return 1;
    }

    @Override
    public String toString() {
      return wrap(left, 1) + " or " + wrap(right, 2);
    }
  }

  record If(Node condition, Node then, Node otherwise) implements Node {
    @Override
    public int precedence() {
      return 0;
    }

    @Override
    public String toString() {
      return wrap(condition, 1) + " ? " + wrap(then, 1) + " : " + wrap(otherwise, 1);
    }
  }

  private static String wrap(Node n, int min) {
    return n.precedence() >= min ? n.toString() : "(" + n + ")";
  }

  enum Op {
    EQ("=="),
    NE("!="),
    LT("<"),
    LE("<="),
    GT(">"),
    GE(">=");

    final String symbol;

    Op(String symbol) {
      this.symbol = symbol;
    }
  }

  /** One side of a comparison. */
  sealed interface Operand {}

  /**
   * A field; for indexed fields {@code index} is a byte offset, from the start when {@code >= 0},
   * from the end when negative ({@code packet32[-1]} is -4).
   */
  record FieldRef(Field field, int index) implements Operand {
    @Override
    public String toString() {
      if (!field.indexed()) {
        return field.text;
      }
      int size = field.wordSize;
      int mag = Math.abs(index);
      String i = mag % size == 0 ? Integer.toString(mag / size) : mag + "b";
      return field.text + "[" + (index < 0 ? "-" : "") + i + "]";
    }
  }

  /**
   * A number (up to 128 bits, optionally negative) or an address; IPv4 addresses are held as {@code
   * ::ffff:a.b.c.d}, as WinDivert holds them. {@code prefix} is the prefix length in bits of the
   * 128-bit value, or 128 for an exact value.
   */
  record Literal(boolean negative, long hi, long lo, Kind kind, int prefix) implements Operand {
    enum Kind {
      NUMBER,
      IPV4,
      IPV6
    }

    static Literal number(long v) {
      return new Literal(v < 0, 0, Math.abs(v), Kind.NUMBER, 128);
    }

    long maskHi() {
      return prefix >= 64 ? -1L : prefix == 0 ? 0 : -1L << (64 - prefix);
    }

    long maskLo() {
      return prefix >= 128 ? -1L : prefix <= 64 ? 0 : -1L << (128 - prefix);
    }

    @Override
    public String toString() {
      return switch (kind) {
        case NUMBER -> {
          byte[] b = new byte[17];
          for (int i = 0; i < 8; i++) {
            b[1 + i] = (byte) (hi >>> (56 - 8 * i));
            b[9 + i] = (byte) (lo >>> (56 - 8 * i));
          }
          yield (negative ? "-" : "") + new BigInteger(b);
        }
        case IPV4 -> {
          int a = (int) lo;
          String s =
              (a >>> 24) + "." + ((a >>> 16) & 0xff) + "." + ((a >>> 8) & 0xff) + "." + (a & 0xff);
          yield prefix == 128 ? s : s + "/" + (prefix - 96);
        }
        case IPV6 -> {
          String s = Addresses.ipv6Text(hi, lo);
          yield prefix == 128 ? s : s + "/" + prefix;
        }
      };
    }
  }
}
