package org.divert4j.pcap.internal;

/**
 * What an {@link InlineSegment} counts on its way to the wire, and its last error. The capture's
 * losses are counted by {@link SegmentCapture}.
 *
 * <p>Written inside the engine's section (the processing thread and programs' sends both hold it);
 * {@link #lastError} is volatile for {@code toString} from any thread.
 */
final class SegmentLedger {
  final long[] sendErrors = new long[2];
  final long[] sent = new long[2];
  long passedUntouched;
  long oversizeDrops;
  long noRouteDrops;
  volatile String lastError;
}
