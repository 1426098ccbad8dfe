package org.divert4j.filter;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits filter text into tokens as WinDivert's tokenizer does: words are runs of letters, digits,
 * {@code . : _} (field names, numbers, IPv4 and IPv6 addresses); a single trailing {@code :} is the
 * ternary's colon, not part of the word.
 */
final class Lexer {
  enum Kind {
    WORD,
    LPAREN,
    RPAREN,
    LBRACKET,
    RBRACKET,
    MINUS,
    SLASH,
    NOT,
    AND,
    OR,
    EQ,
    NE,
    LT,
    LE,
    GT,
    GE,
    QUESTION,
    COLON,
    END
  }

  record Token(Kind kind, String text, int pos) {
    String describe() {
      return kind == Kind.END ? "the end of the filter" : "'" + text + "'";
    }
  }

  /** Longest word accepted (an IPv6 address with an IPv4 tail is 45 characters). */
  static final int MAX_WORD = 64;

  private Lexer() {}

  static List<Token> tokens(String s) {
    List<Token> out = new ArrayList<>();
    int i = 0;
    int n = s.length();
    while (true) {
      while (i < n && Character.isWhitespace(s.charAt(i))) {
        i++;
      }
      if (i >= n) {
        out.add(new Token(Kind.END, "", n + 1));
        return out;
      }
      int start = i;
      char c = s.charAt(i++);
      char next = i < n ? s.charAt(i) : '\0';
      Kind k;
      switch (c) {
        case '(' -> k = Kind.LPAREN;
        case ')' -> k = Kind.RPAREN;
        case '[' -> k = Kind.LBRACKET;
        case ']' -> k = Kind.RBRACKET;
        case '-' -> k = Kind.MINUS;
        case '/' -> k = Kind.SLASH;
        case '?' -> k = Kind.QUESTION;
        case '!' -> {
          if (next == '=') {
            i++;
            k = Kind.NE;
          } else {
            k = Kind.NOT;
          }
        }
        case '=' -> {
          if (next == '=') {
            i++;
          }
          k = Kind.EQ;
        }
        case '<' -> {
          if (next == '=') {
            i++;
            k = Kind.LE;
          } else {
            k = Kind.LT;
          }
        }
        case '>' -> {
          if (next == '=') {
            i++;
            k = Kind.GE;
          } else {
            k = Kind.GT;
          }
        }
        case '&', '|' -> {
          if (next != c) {
            throw new FilterSyntaxException(
                start + 1, "expected '" + c + c + "', found '" + c + "' alone");
          }
          i++;
          k = c == '&' ? Kind.AND : Kind.OR;
        }
        case ':' -> {
          if (next == ':') {
            i = word(s, start);
            k = Kind.WORD;
          } else {
            k = Kind.COLON;
          }
        }
        default -> {
          if (!isWordChar(c)) {
            throw new FilterSyntaxException(start + 1, "unexpected character " + quote(c));
          }
          i = word(s, start);
          k = Kind.WORD;
        }
      }
      String text = s.substring(start, i);
      if (k == Kind.WORD) {
        if (text.length() > MAX_WORD) {
          throw new FilterSyntaxException(
              start + 1, "word longer than " + MAX_WORD + " characters");
        }
        if (text.endsWith(":") && !text.endsWith("::")) {
          text = text.substring(0, text.length() - 1); // "(tcp? x: y)": the colon is the ternary's
          i--;
        }
        k =
            switch (text) {
              case "and" -> Kind.AND;
              case "or" -> Kind.OR;
              case "not" -> Kind.NOT;
              default -> Kind.WORD;
            };
      }
      out.add(new Token(k, text, start + 1));
    }
  }

  private static int word(String s, int i) {
    while (i < s.length() && isWordChar(s.charAt(i))) {
      i++;
    }
    return i;
  }

  private static boolean isWordChar(char c) {
    return (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')
        || c == '.'
        || c == ':'
        || c == '_';
  }

  private static String quote(char c) {
    return c >= 0x20 && c < 0x7f ? "'" + c + "'" : String.format("U+%04X", (int) c);
  }
}
