package org.divert4j.cli;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.divert4j.DivertRule;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** picocli converters that turn bad values into one-line usage errors naming the valid range. */
final class Converters {
  private Converters() {}

  /** A word from a fixed set, case-insensitive; also lists the words for help and completion. */
  abstract static class Choices<T> implements ITypeConverter<T>, Iterable<String> {
    private final String what;
    private final Map<String, T> choices;

    Choices(String what, Map<String, T> choices) {
      this.what = what;
      this.choices = new TreeMap<>(choices);
    }

    @Override
    public T convert(String value) {
      String key = value.trim().toLowerCase(Locale.ROOT).replace('_', '-');
      T t = choices.get(key);
      if (t == null) {
        throw new TypeConversionException(
            "unknown " + what + " '" + value + "': use " + String.join(" or ", choices.keySet()));
      }
      return t;
    }

    @Override
    public Iterator<String> iterator() {
      return new ArrayList<>(choices.keySet()).iterator();
    }
  }

  /** An int in a range, named in the error. */
  abstract static class Range implements ITypeConverter<Integer> {
    private final String what;
    private final int min;
    private final int max;

    Range(String what, int min, int max) {
      this.what = what;
      this.min = min;
      this.max = max;
    }

    @Override
    public Integer convert(String value) {
      try {
        int v = Integer.parseInt(value.trim());
        if (v >= min && v <= max) {
          return v;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new TypeConversionException(
          what + " must be a number from " + min + " to " + max + ", not '" + value + "'");
    }
  }

  /** A divert port, 1..65535 (S2: port 0 and ports above 65535 are refused). */
  static final class Port extends Range {
    Port() {
      super("a divert port", 1, 65535);
    }
  }

  /** A socket queue length. */
  static final class QueueLength extends Range {
    QueueLength() {
      super("the queue length", 1, 65535);
    }
  }

  /** A packet count for {@code --count} and {@code --generate}. */
  static final class Count extends Range {
    Count() {
      super("the count", 1, Integer.MAX_VALUE);
    }
  }

  /** A receive batch size. */
  static final class BatchSize extends Range {
    BatchSize() {
      super("the batch size", 1, 1024);
    }
  }

  /**
   * The text form of a divert rule ({@link DivertRule#parse(String, int)}); the port is filled in
   * later by the command, so a rule may omit it.
   */
  static final class RuleText implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      try {
        DivertRule.parse(value, 1); // syntax check now, so the error is a usage error
        return value;
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException("malformed rule: " + e.getMessage());
      }
    }
  }

  /** A filter expression in WinDivert's language ({@link org.divert4j.filter.Filter#parse}). */
  static final class FilterText implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      try {
        return org.divert4j.filter.Filter.parse(value).toString();
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException("bad filter: " + e.getMessage());
      }
    }
  }

  /**
   * A duration: {@code 10s}, {@code 500ms}, {@code 2m}, {@code 1h}, a plain number of seconds, or
   * ISO-8601 ({@code PT10S}).
   */
  static final class Durations implements ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      String v = value.trim().toLowerCase(Locale.ROOT);
      try {
        Duration d;
        if (v.startsWith("pt") || v.startsWith("p")) {
          d = Duration.parse(value.trim().toUpperCase(Locale.ROOT));
        } else if (v.endsWith("ms")) {
          d = Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
        } else if (v.endsWith("s")) {
          d = Duration.ofMillis(Math.round(Double.parseDouble(chop(v)) * 1000));
        } else if (v.endsWith("m")) {
          d = Duration.ofMillis(Math.round(Double.parseDouble(chop(v)) * 60_000));
        } else if (v.endsWith("h")) {
          d = Duration.ofMillis(Math.round(Double.parseDouble(chop(v)) * 3_600_000));
        } else {
          d = Duration.ofMillis(Math.round(Double.parseDouble(v) * 1000));
        }
        if (!d.isNegative() && !d.isZero()) {
          return d;
        }
      } catch (RuntimeException e) {
        // reported below
      }
      throw new TypeConversionException(
          "not a positive duration: '" + value + "' (e.g. 10s, 500ms, 2m)");
    }

    private static String chop(String v) {
      return v.substring(0, v.length() - 1);
    }
  }
}
