package org.divert4j.pcap.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import org.divert4j.DivertException;

/**
 * The interfaces one {@link InlineSegment} has claimed in this JVM: two segments on one interface
 * would both forward every frame, so the second is refused. Keyed by namespace path and interface
 * name.
 *
 * <p>Thread-safe across segments (one concurrent map); each instance is used by its segment's
 * opening and closing thread only.
 */
final class SegmentClaims {
  private static final ConcurrentHashMap<String, String> IN_USE = new ConcurrentHashMap<>();

  private final String nsPath;
  private final String[] names;
  private final String owner;
  private final List<String> keys = new ArrayList<>();

  /**
   * @param nsPath the namespace's path, or null for the JVM's own
   * @param names the interfaces to claim
   * @param owner the host name, for the message a refused segment gets
   */
  SegmentClaims(String nsPath, String[] names, String owner) {
    this.nsPath = nsPath;
    this.names = names;
    this.owner = owner;
  }

  /** Refuses interfaces another segment of this JVM uses: both would forward every frame. */
  void claim() throws DivertException {
    for (String n : names) {
      String key = (nsPath == null ? "" : nsPath) + "|" + n;
      String other = IN_USE.putIfAbsent(key, owner);
      if (other != null) {
        release();
        throw new DivertException(
            "interface "
                + n
                + (nsPath == null ? "" : " in " + nsPath)
                + " is already inline in pcap host "
                + other
                + " of this JVM; close that host first");
      }
      keys.add(key);
    }
  }

  /** Gives back what {@link #claim} took. */
  void release() {
    for (String k : keys) {
      IN_USE.remove(k, owner);
    }
    keys.clear();
  }
}
