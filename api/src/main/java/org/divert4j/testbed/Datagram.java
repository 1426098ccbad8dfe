package org.divert4j.testbed;

import java.net.InetAddress;

/**
 * A UDP datagram received on a test node.
 *
 * @param source the sender's address
 * @param sourcePort the sender's port
 * @param payload the payload (owned by the record's holder)
 * @param interfaceIndex the index of the interface it arrived on, or 0 if the test bed cannot tell
 */
public record Datagram(InetAddress source, int sourcePort, byte[] payload, int interfaceIndex) {}
