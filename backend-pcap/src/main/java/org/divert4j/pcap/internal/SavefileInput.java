package org.divert4j.pcap.internal;

import java.io.IOException;

/**
 * The input of a savefile replay: one packet at a time, left in the reader's buffer until the next
 * call. Implemented by {@link SavefileReader} (classic pcap files, read in Java) and {@link
 * CaptureHandle} (libpcap, for every other file libpcap reads).
 *
 * <p>Threads: one reader thread; {@link #close()} after it has stopped.
 */
interface SavefileInput extends AutoCloseable {
  /**
   * Reads the next packet.
   *
   * @return {@link CaptureHandle#PACKET} or {@link CaptureHandle#END}
   * @throws IOException if the file cannot be read or is damaged
   */
  int next() throws IOException;

  /**
   * @return the captured length of the packet {@link #next()} read
   */
  int length();

  /**
   * @return its timestamp, nanoseconds since the epoch
   */
  long timestampNanos();

  /**
   * Copies the packet {@link #next()} read.
   *
   * @param dst the destination
   * @param offset where in it
   * @param count how many bytes, at most {@link #length()}
   */
  void copyTo(byte[] dst, int offset, int count);

  /**
   * @return the link-layer type as libpcap's {@code pcap_datalink} reports it (a DLT_ value)
   */
  int linkType();

  /**
   * @return true if the file has nanosecond timestamps
   */
  boolean nano();

  @Override
  void close();
}
