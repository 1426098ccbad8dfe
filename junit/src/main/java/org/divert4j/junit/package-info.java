/**
 * JUnit 5 support for programs built on divert4j: a test asks for a {@link
 * org.divert4j.testbed.TestBed} (or the host and nodes of one) as a parameter, and {@link
 * org.divert4j.junit.DivertExtension} opens it on the backend named by {@code divert.backend}
 * (default {@code sim}) and closes it after the test; {@link org.divert4j.junit.DivertProgram} runs
 * the packet program under test on its own thread and stops it cleanly.
 *
 * <pre>{@code
 * @DivertTestBed
 * class TtlFilterTest {
 *   @Test
 *   void dropsLowTtl(TestBed bed, @Peer TestNode peer) throws Exception {
 *     DivertSocket socket = bed.host().bind(1234);
 *     bed.host().addRule(DivertRule.parse("input -p udp -j DIVERT 1234"));
 *     try (DivertProgram program = DivertProgram.loop(socket, 64, new TtlFilter(8)::filter)) {
 *       // send from the peer, check what arrives
 *     }
 *   }
 * }
 * }</pre>
 *
 * <p>The same test runs on the simulation in a build without privileges and on the kernel as root
 * with {@code -Ddivert.backend=rawsocket}.
 */
package org.divert4j.junit;
