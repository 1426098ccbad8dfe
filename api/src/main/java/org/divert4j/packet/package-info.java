/**
 * The IPv4 packet toolkit: everything a divert program needs to read, change, build, fragment and
 * reassemble IPv4 packets held in {@link java.nio.ByteBuffer}s.
 *
 * <ul>
 *   <li>{@link org.divert4j.packet.Ipv4View}: a zero-copy, reusable view over a packet, with
 *       validation that names the {@link org.divert4j.packet.Defect} (SEMANTICS.md S47).
 *   <li>{@link org.divert4j.packet.Checksums}: RFC 1071 sums, IP/ICMP/UDP/TCP checksums, RFC 1624
 *       incremental updates.
 *   <li>{@link org.divert4j.packet.Ipv4Builder}: builds UDP, TCP, ICMP echo and raw datagrams.
 *   <li>{@link org.divert4j.packet.Fragmenter}: fragments to an MTU (RFC 791), DF aware.
 *   <li>{@link org.divert4j.packet.Reassembler}: bounded, timed reassembly that discards
 *       overlapping datagrams as Linux does since CVE-2018-5391.
 * </ul>
 *
 * <p>Conventions shared by every class: a packet in a buffer spans {@code position()} to {@code
 * limit()} unless a method takes explicit indexes; access is absolute, so the caller's position,
 * limit and byte order are never disturbed unless a method says so; fields are in network byte
 * order whatever the buffer's order; addresses are host-order ints ({@code 10.0.0.1 == 0x0A000001},
 * see {@link org.divert4j.Ipv4}). Hot paths allocate nothing per packet.
 */
package org.divert4j.packet;
