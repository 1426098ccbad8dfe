package org.divert4j.filter;

import java.util.List;
import org.divert4j.filter.Lexer.Kind;
import org.divert4j.filter.Lexer.Token;
import org.divert4j.filter.Node.FieldRef;
import org.divert4j.filter.Node.Literal;
import org.divert4j.filter.Node.Op;
import org.divert4j.filter.Node.Operand;

/**
 * Recursive descent over WinDivert 2.x's filter grammar, from the loosest binding to the tightest:
 *
 * <pre>
 * filter  := cond END
 * cond    := or [ '?' cond ':' cond ]
 * or      := and { ('or' | '||') and }
 * and     := unary { ('and' | '&&') unary }
 * unary   := ('not' | '!') unary | '(' cond ')' | test
 * test    := operand [ ('==' | '=' | '!=' | '<' | '<=' | '>' | '>=') operand ]
 * operand := FIELD [ '[' ['-'] NUMBER['b'] ']' ] | ['-'] NUMBER | ADDRESS [ '/' NUMBER ]
 * </pre>
 *
 * Each parenthesis, {@code not} and {@code ? :} nests one level; recursion is bounded by {@link
 * Filter#MAX_DEPTH} and the number of tests by {@link Filter#MAX_TESTS}, so no input can exhaust
 * the stack.
 */
final class Parser {
  private final List<Token> tokens;
  private int next;
  private int depth;
  private int tests;

  private Parser(List<Token> tokens) {
    this.tokens = tokens;
  }

  static Node parse(String text) {
    if (text.length() > Filter.MAX_LENGTH) {
      throw new FilterSyntaxException(
          Filter.MAX_LENGTH + 1, "filter longer than " + Filter.MAX_LENGTH + " characters");
    }
    Parser p = new Parser(Lexer.tokens(text));
    Node n = p.cond();
    Token t = p.peek();
    if (t.kind() != Kind.END) {
      throw p.expected("'and', 'or', '?' or the end of the filter", t);
    }
    return n;
  }

  private Token peek() {
    return tokens.get(next);
  }

  private Token take() {
    return tokens.get(next++);
  }

  private boolean accept(Kind k) {
    if (peek().kind() == k) {
      next++;
      return true;
    }
    return false;
  }

  private FilterSyntaxException expected(String what, Token found) {
    return new FilterSyntaxException(
        found.pos(), "expected " + what + ", found " + found.describe());
  }

  private void enter() {
    if (++depth > Filter.MAX_DEPTH) {
      throw new FilterSyntaxException(
          peek().pos(), "filter nested deeper than " + Filter.MAX_DEPTH + " levels");
    }
  }

  private Node cond() {
    Node c = or();
    if (accept(Kind.QUESTION)) {
      enter();
      Node then = cond();
      Token colon = peek();
      if (!accept(Kind.COLON)) {
        throw expected("':'", colon);
      }
      Node otherwise = cond();
      depth--;
      c = new Node.If(c, then, otherwise);
    }
    return c;
  }

  private Node or() {
    Node n = and();
    while (accept(Kind.OR)) {
      n = new Node.Or(n, and());
    }
    return n;
  }

  private Node and() {
    Node n = unary();
    while (accept(Kind.AND)) {
      n = new Node.And(n, unary());
    }
    return n;
  }

  private Node unary() {
    Kind k = peek().kind();
    if (k != Kind.NOT && k != Kind.LPAREN) {
      return test();
    }
    enter();
    next++;
    Node n;
    if (k == Kind.NOT) {
      n = new Node.Not(unary());
    } else {
      n = cond();
      Token close = peek();
      if (!accept(Kind.RPAREN)) {
        throw expected("')'", close);
      }
    }
    depth--;
    return n;
  }

  private Node test() {
    Token start = peek();
    if (++tests > Filter.MAX_TESTS) {
      throw new FilterSyntaxException(
          start.pos(), "filter has more than " + Filter.MAX_TESTS + " tests");
    }
    Operand left = operand();
    Op op = op(peek().kind());
    if (op == null) {
      if (left instanceof Literal l && l.kind() != Literal.Kind.NUMBER) {
        throw expected("a comparison after an address", peek());
      }
      return new Node.Test(left, null, null);
    }
    next++;
    Operand right = operand();
    Literal prefixed =
        left instanceof Literal l && l.prefix() < 128
            ? l
            : right instanceof Literal r && r.prefix() < 128 ? r : null;
    if (prefixed != null && op != Op.EQ && op != Op.NE) {
      throw new FilterSyntaxException(
          start.pos(), "a prefix such as " + prefixed + " compares only with == or !=");
    }
    return new Node.Test(left, op, right);
  }

  private static Op op(Kind k) {
    return switch (k) {
      case EQ -> Op.EQ;
      case NE -> Op.NE;
      case LT -> Op.LT;
      case LE -> Op.LE;
      case GT -> Op.GT;
      case GE -> Op.GE;
      default -> null;
    };
  }

  private Operand operand() {
    Token t = peek();
    if (t.kind() == Kind.MINUS) {
      next++;
      Token n = take();
      long[] v = n.kind() == Kind.WORD ? Addresses.number(n.text()) : null;
      Integer m = n.kind() == Kind.WORD ? Field.macro(n.text()) : null;
      if (v == null && m == null) {
        next--;
        throw expected("a number after '-'", n);
      }
      return v != null
          ? new Literal(v[0] != 0 || v[1] != 0, v[0], v[1], Literal.Kind.NUMBER, 128)
          : Literal.number(-m);
    }
    if (t.kind() != Kind.WORD) {
      throw expected("a field or a number", t);
    }
    next++;
    String w = t.text();
    Field f = Field.byName(w);
    if (f != null) {
      return f.indexed() ? new FieldRef(f, index(f)) : new FieldRef(f, 0);
    }
    String refusal = Field.refusal(w);
    if (refusal != null) {
      throw new FilterSyntaxException(t.pos(), "field '" + w + "' is not supported: " + refusal);
    }
    Integer m = Field.macro(w);
    if (m != null) {
      return Literal.number(m);
    }
    long[] v = Addresses.number(w);
    if (v != null) {
      return new Literal(false, v[0], v[1], Literal.Kind.NUMBER, 128);
    }
    long a4 = Addresses.ipv4(w);
    if (a4 >= 0) {
      return new Literal(false, 0, 0xffff_0000_0000L | a4, Literal.Kind.IPV4, 96 + prefix(32));
    }
    if (w.indexOf(':') >= 0) {
      long[] a6 = Addresses.ipv6(w);
      if (a6 != null) {
        return new Literal(false, a6[0], a6[1], Literal.Kind.IPV6, prefix(128));
      }
      throw new FilterSyntaxException(t.pos(), "'" + w + "' is not an IPv6 address");
    }
    if (Character.isDigit(w.charAt(0))) {
      throw new FilterSyntaxException(
          t.pos(), "'" + w + "' is not a number (below 2^128), nor an address");
    }
    throw new FilterSyntaxException(t.pos(), "unknown field '" + w + "'");
  }

  /** Reads an optional {@code /LEN} after an address; returns its length, or max when absent. */
  private int prefix(int max) {
    if (!accept(Kind.SLASH)) {
      return max;
    }
    Token n = take();
    long[] v = n.kind() == Kind.WORD ? Addresses.number(n.text()) : null;
    if (v == null || v[0] != 0 || v[1] > max) {
      throw expected("a prefix length from 0 to " + max, n);
    }
    return (int) v[1];
  }

  /** Reads {@code [i]}, {@code [-i]}, {@code [ib]} or {@code [-ib]}; returns the byte offset. */
  private int index(Field f) {
    Token open = peek();
    if (!accept(Kind.LBRACKET)) {
      throw expected("'[' and an index after " + f.text, open);
    }
    boolean neg = accept(Kind.MINUS);
    Token n = take();
    String w = n.kind() == Kind.WORD ? n.text() : "";
    boolean bytes = w.endsWith("b") && !w.startsWith("0x");
    long[] v = Addresses.number(bytes ? w.substring(0, w.length() - 1) : w);
    if (v == null || v[0] != 0 || v[1] > Filter.MAX_INDEX) {
      throw expected("an index from 0 to " + Filter.MAX_INDEX, n);
    }
    long off = bytes ? v[1] : v[1] * f.wordSize;
    if (off > Filter.MAX_INDEX || (neg && off < f.wordSize)) {
      throw new FilterSyntaxException(
          n.pos(),
          neg
              ? "index -" + w + " of " + f.text + " starts less than one word from the end"
              : "index " + w + " of " + f.text + " is past " + Filter.MAX_INDEX + " bytes");
    }
    Token close = peek();
    if (!accept(Kind.RBRACKET)) {
      throw expected("']'", close);
    }
    return neg ? -(int) off : (int) off;
  }
}
