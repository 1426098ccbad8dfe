package org.divert4j.cli;

import java.time.Duration;
import java.util.Locale;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Converters for {@code divert impair}: times, probabilities, rates and sizes as tc spells them.
 */
final class ImpairConverters {
  private ImpairConverters() {}

  /** A time of zero or more: {@code 20ms}, {@code 500us}, {@code 1.5ms}, {@code 2s}, {@code 0}. */
  static final class Time implements ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      String v = value.trim().toLowerCase(Locale.ROOT);
      try {
        double nanos;
        if (v.endsWith("ns")) {
          nanos = Double.parseDouble(cut(v, 2));
        } else if (v.endsWith("us")) {
          nanos = Double.parseDouble(cut(v, 2)) * 1e3;
        } else if (v.endsWith("ms")) {
          nanos = Double.parseDouble(cut(v, 2)) * 1e6;
        } else if (v.endsWith("s")) {
          nanos = Double.parseDouble(cut(v, 1)) * 1e9;
        } else if (v.equals("0")) {
          nanos = 0;
        } else {
          throw new NumberFormatException("no unit");
        }
        if (nanos >= 0 && nanos <= 3600e9) {
          return Duration.ofNanos(Math.round(nanos));
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new TypeConversionException(
          "not a time: '" + value + "' (e.g. 20ms, 500us, 1.5s; up to an hour)");
    }
  }

  /** A probability: {@code 10%}, or a fraction such as {@code 0.1}. */
  static final class Probability implements ITypeConverter<Double> {
    @Override
    public Double convert(String value) {
      return parse(value);
    }

    static double parse(String value) {
      String v = value.trim();
      try {
        double p;
        if (v.endsWith("%")) {
          p = Double.parseDouble(cut(v, 1)) / 100;
        } else {
          p = Double.parseDouble(v);
          if (p > 1) {
            throw new TypeConversionException(
                "not a probability: '" + value + "': write " + v + "% or a fraction 0..1");
          }
        }
        if (p >= 0 && p <= 1) {
          return p;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new TypeConversionException(
          "not a probability: '" + value + "' (e.g. 10% or 0.1, between 0 and 100%)");
    }
  }

  /** Gilbert-Elliott parameters: {@code P,R[,LOSS_BAD[,LOSS_GOOD]]}, each a probability. */
  static final class GilbertElliott implements ITypeConverter<double[]> {
    @Override
    public double[] convert(String value) {
      String[] parts = value.split(",", -1);
      if (parts.length < 2 || parts.length > 4) {
        throw new TypeConversionException(
            "not Gilbert-Elliott parameters: '" + value + "' (P,R[,LOSS_BAD[,LOSS_GOOD]])");
      }
      double[] ge = {0, 0, 1, 0};
      for (int i = 0; i < parts.length; i++) {
        ge[i] = Probability.parse(parts[i]);
      }
      if (ge[1] == 0) {
        throw new TypeConversionException("Gilbert-Elliott R must be above 0: " + value);
      }
      return ge;
    }
  }

  /** A rate in bits per second, as tc writes it: {@code 10mbit}, {@code 500kbit}, {@code 1gbit}. */
  static final class Rate implements ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      String v = value.trim().toLowerCase(Locale.ROOT);
      try {
        double bits;
        if (v.endsWith("gbit")) {
          bits = Double.parseDouble(cut(v, 4)) * 1e9;
        } else if (v.endsWith("mbit")) {
          bits = Double.parseDouble(cut(v, 4)) * 1e6;
        } else if (v.endsWith("kbit")) {
          bits = Double.parseDouble(cut(v, 4)) * 1e3;
        } else if (v.endsWith("bit")) {
          bits = Double.parseDouble(cut(v, 3));
        } else {
          throw new NumberFormatException("no unit");
        }
        if (bits >= 8 && bits <= 1e12) {
          return Math.round(bits);
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new TypeConversionException(
          "not a rate: '" + value + "' (e.g. 10mbit, 500kbit, 1gbit: bits per second)");
    }
  }

  /** A size in bytes: {@code 1500}, {@code 15k} or {@code 15kb} (1024), {@code 1m} (1024²). */
  static final class Size implements ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      String v = value.trim().toLowerCase(Locale.ROOT);
      if (v.endsWith("b")) {
        v = cut(v, 1);
      }
      try {
        long unit = 1;
        if (v.endsWith("k")) {
          unit = 1024;
          v = cut(v, 1);
        } else if (v.endsWith("m")) {
          unit = 1024 * 1024;
          v = cut(v, 1);
        }
        double bytes = Double.parseDouble(v) * unit;
        if (bytes >= 0 && bytes <= 1L << 40) {
          return Math.round(bytes);
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new TypeConversionException("not a size: '" + value + "' (e.g. 1500, 15k, 1m)");
    }
  }

  private static String cut(String v, int n) {
    return v.substring(0, v.length() - n).trim();
  }
}
