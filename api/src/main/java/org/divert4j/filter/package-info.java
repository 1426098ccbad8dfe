/**
 * Filter expressions in WinDivert 2.x's language (SEMANTICS.md section M): {@link
 * org.divert4j.filter.Filter} parses and evaluates them over IPv4 and IPv6 packets in {@link
 * java.nio.ByteBuffer}s, {@link org.divert4j.filter.FilterContext} carries what the bytes do not
 * say (direction, loopback, interface index), and {@link org.divert4j.filter.FilterSyntaxException}
 * names the position of a fault. See {@code docs/filters.md} for the fields and the differences
 * from WinDivert.
 */
package org.divert4j.filter;
