package org.divert4j.rawsocket.internal;

import java.util.function.IntSupplier;

/**
 * What a kernel host hands each of its sockets: the namespace's shared pieces, never the host
 * itself.
 *
 * @param ifaces the namespace's interfaces and routes
 * @param raw the host's raw injection socket
 * @param jumboTap the tap for the tails of packets above 65531 bytes, or null if it could not open
 * @param ids the IP ID source of the host (S39)
 * @param proc the namespace's /proc counters
 * @param arming the port's rule lines: disarm on close, and their counters
 * @param marks the namespace's mark layout
 * @param ingress the exact inbound injection path, or null where the backend does not declare
 *     EXACT_INBOUND_INTERFACE (inbound injections then arrive on lo)
 */
record SocketServices(
    Interfaces ifaces,
    RawSender raw,
    JumboTap jumboTap,
    IntSupplier ids,
    NamespaceCounters proc,
    PortArming arming,
    Marks marks,
    IngressPath ingress) {}
