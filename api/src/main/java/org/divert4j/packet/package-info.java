/**
 * The packet toolkit: everything a divert program needs to read, change, build, fragment and
 * reassemble IPv4 and IPv6 packets held in {@link java.nio.ByteBuffer}s. Programs tell the families
 * apart by the version nibble (SEMANTICS.md S54).
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
 *   <li>IPv6 (RFC 8200, SEMANTICS.md section K): {@link org.divert4j.packet.Ipv6View} with a
 *       zero-allocation walk of the extension headers, {@link org.divert4j.packet.Ipv6Builder}, the
 *       IPv6 checksums of {@link org.divert4j.packet.Checksums} (pseudo-header, UDP 0 sent as
 *       0xFFFF), {@link org.divert4j.packet.Ipv6Fragmenter} and {@link
 *       org.divert4j.packet.Ipv6Reassembler} (RFC 5722 overlaps, RFC 6946 atomic fragments).
 * </ul>
 *
 * <p>Conventions shared by every class: a packet in a buffer spans {@code position()} to {@code
 * limit()} unless a method takes explicit indexes; access is absolute, so the caller's position,
 * limit and byte order are never disturbed unless a method says so; fields are in network byte
 * order whatever the buffer's order; IPv4 addresses are host-order ints ({@code 10.0.0.1 ==
 * 0x0A000001}, see {@link org.divert4j.Ipv4}), IPv6 addresses 16-byte arrays. Hot paths allocate
 * nothing per packet.
 */
package org.divert4j.packet;
