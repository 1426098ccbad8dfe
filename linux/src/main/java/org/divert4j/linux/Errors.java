package org.divert4j.linux;

import java.util.ArrayList;
import java.util.List;
import org.divert4j.DivertException;
import org.divert4j.PermissionException;

/**
 * Errno values and their mapping to divert4j's exceptions (Netty's {@code Errors} pattern): where a
 * public type fits it is used, otherwise a plain {@link DivertException} that keeps the errno.
 */
public final class Errors {
  public static final int EPERM = 1;
  public static final int ENOENT = 2;
  public static final int ESRCH = 3;
  public static final int EINTR = 4;
  public static final int EAGAIN = 11;
  public static final int ENOMEM = 12;
  public static final int EACCES = 13;
  public static final int EBUSY = 16;
  public static final int EEXIST = 17;
  public static final int ENODEV = 19;
  public static final int EINVAL = 22;
  public static final int EMSGSIZE = 90;
  public static final int EPROTONOSUPPORT = 93;
  public static final int EOPNOTSUPP = 95;
  public static final int EAFNOSUPPORT = 97;
  public static final int EADDRINUSE = 98;
  public static final int EADDRNOTAVAIL = 99;
  public static final int ENETUNREACH = 101;
  public static final int ENOBUFS = 105;
  public static final int EHOSTUNREACH = 113;

  private Errors() {}

  /**
   * @param errno an errno value
   * @return its symbolic name, e.g. {@code EPERM}
   */
  public static String name(int errno) {
    return switch (errno) {
      case EPERM -> "EPERM";
      case ENOENT -> "ENOENT";
      case ESRCH -> "ESRCH";
      case EINTR -> "EINTR";
      case EAGAIN -> "EAGAIN";
      case ENOMEM -> "ENOMEM";
      case EACCES -> "EACCES";
      case EBUSY -> "EBUSY";
      case EEXIST -> "EEXIST";
      case ENODEV -> "ENODEV";
      case EINVAL -> "EINVAL";
      case EMSGSIZE -> "EMSGSIZE";
      case EPROTONOSUPPORT -> "EPROTONOSUPPORT";
      case EOPNOTSUPP -> "EOPNOTSUPP";
      case EAFNOSUPPORT -> "EAFNOSUPPORT";
      case EADDRINUSE -> "EADDRINUSE";
      case EADDRNOTAVAIL -> "EADDRNOTAVAIL";
      case ENETUNREACH -> "ENETUNREACH";
      case ENOBUFS -> "ENOBUFS";
      case EHOSTUNREACH -> "EHOSTUNREACH";
      default -> "errno " + errno;
    };
  }

  /**
   * @param errno an errno value
   * @return true for EPERM and EACCES
   */
  public static boolean isPermission(int errno) {
    return errno == EPERM || errno == EACCES;
  }

  /**
   * The capabilities among CAP_NET_ADMIN and CAP_NET_RAW that the calling thread lacks.
   *
   * @return their names; empty if both are present or the set cannot be read
   */
  public static List<String> missingCapabilities() {
    List<String> missing = new ArrayList<>(2);
    try {
      long caps = Capabilities.effective();
      if ((caps & (1L << Capabilities.CAP_NET_ADMIN)) == 0) {
        missing.add("CAP_NET_ADMIN");
      }
      if ((caps & (1L << Capabilities.CAP_NET_RAW)) == 0) {
        missing.add("CAP_NET_RAW");
      }
    } catch (ErrnoException | LinkageError e) {
      // unknown: the caller names what the failed call needed
    }
    return missing;
  }

  /**
   * A permission error for an operation, naming the capabilities the thread lacks (or {@code
   * needed} if the set cannot be read or lacks nothing we know of).
   *
   * @param operation what was attempted
   * @param needed the capability the failed call needs
   * @param e the failed call
   * @return the exception
   */
  public static PermissionException permission(String operation, String needed, ErrnoException e) {
    List<String> missing = missingCapabilities();
    if (missing.isEmpty()) {
      missing = List.of(needed);
    }
    return new PermissionException(operation, missing, e.errno(), e);
  }

  /**
   * A generic failure keeping the errno.
   *
   * @param what what failed, for the message
   * @param e the failed call
   * @return the exception
   */
  public static DivertException generic(String what, ErrnoException e) {
    return new DivertException(what + ": " + e.getMessage(), e.errno(), e);
  }
}
