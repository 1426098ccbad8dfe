package org.divert4j.impair;

/**
 * Counters of an {@link Impairer}, as a snapshot. Every received packet ends in exactly one of
 * {@link #lost()}, {@link #rateDropped()}, {@link #overflowed()}, {@link #sent()}, {@link
 * #sendErrors()} or is still {@link #held()}; duplicates are counted in {@link #duplicated()} and
 * then also end in one of those.
 *
 * @param received packets received from the divert socket
 * @param lost packets dropped by the loss model
 * @param duplicated extra copies made
 * @param corrupted packets with a bit flipped
 * @param reordered packets that skipped the delay
 * @param delayed packets held for a delay or the rate limit before being sent
 * @param rateDropped packets dropped because the rate limit would have held them too long
 * @param overflowed packets (or copies) dropped because the held-packet store was full
 * @param oversize packets too large for a held slot, written back at once without delay
 * @param sent packets and copies written back or injected successfully
 * @param sendErrors packets and copies whose write-back failed
 * @param held packets and copies held at the time of the snapshot
 */
public record ImpairStats(
    long received,
    long lost,
    long duplicated,
    long corrupted,
    long reordered,
    long delayed,
    long rateDropped,
    long overflowed,
    long oversize,
    long sent,
    long sendErrors,
    long held) {}
