package org.divert4j.sim.tck;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import org.divert4j.Capability;
import org.divert4j.DivertAddress;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.DivertRule;
import org.divert4j.DivertSocket;
import org.divert4j.HostOptions;
import org.divert4j.HostStats;
import org.divert4j.InstalledRule;
import org.divert4j.NetInterface;
import org.divert4j.PacketBatch;
import org.divert4j.SocketStats;
import org.divert4j.sim.SimProvider;
import org.divert4j.spi.Availability;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.TestNode;

/**
 * Decorators of the simulation's provider, test beds, hosts and sockets, for broken backends whose
 * fault lies outside the engine's hooks (what a socket reports, what it does on close, how it
 * reports errors). A {@link Fault} says what to change; everything else passes through.
 */
final class Decorated {
  private Decorated() {}

  /** What a broken backend changes. */
  interface Fault {
    /**
     * @param socket a socket of the simulation, already wrapped to report the decorated host
     * @return the socket the program gets
     */
    default DivertSocket socket(Forwarding socket) {
      return socket;
    }

    /**
     * @param bed the simulation's test bed
     * @param options the options to open with
     * @return the host, or an exception, as {@link TestBed#openUnprivileged}
     * @throws DivertException as the fault wishes
     */
    default DivertHost openUnprivileged(TestBed bed, HostOptions options) throws DivertException {
      return bed.openUnprivileged(options);
    }

    /**
     * @param host the simulation's host
     * @param rule the rule to add
     * @return the installed rule, as {@link DivertHost#addRule}
     * @throws DivertException as the fault wishes
     */
    default InstalledRule addRule(DivertHost host, DivertRule rule) throws DivertException {
      return host.addRule(rule);
    }

    /**
     * @param host the simulation's host
     * @param index where to insert
     * @param rule the rule to insert
     * @return the installed rule, as {@link DivertHost#insertRule}
     * @throws DivertException as the fault wishes
     */
    default InstalledRule insertRule(DivertHost host, int index, DivertRule rule)
        throws DivertException {
      return host.insertRule(index, rule);
    }

    /**
     * @param host the simulation's host
     * @param port the port to bind
     * @return the simulation's socket, which {@link #socket} then wraps
     * @throws DivertException as the fault wishes
     */
    default DivertSocket bind(DivertHost host, int port) throws DivertException {
      return host.bind(port);
    }

    /**
     * @param options what the TCK asked for
     * @return what the simulation's test bed is built with
     */
    default TestBedOptions testBedOptions(TestBedOptions options) {
      return options;
    }

    /**
     * @param host the simulation's host
     * @return the statistics the program gets, as {@link DivertHost#stats()}
     */
    default HostStats stats(DivertHost host) {
      return host.stats();
    }

    /**
     * @param bed the real test bed
     * @return its state snapshot, as {@link TestBed#hostState()}
     * @throws java.io.IOException as the real one
     */
    default java.util.List<String> hostState(TestBed bed) throws java.io.IOException {
      return bed.hostState();
    }
  }

  static DivertProvider provider(String name, Fault fault) {
    return new Provider(name, new SimProvider(), fault);
  }

  /** A socket that forwards every call; subclasses add the fault. */
  static class Forwarding implements DivertSocket {
    final DivertSocket delegate;
    final DivertHost host;

    Forwarding(DivertSocket delegate, DivertHost host) {
      this.delegate = delegate;
      this.host = host;
    }

    Forwarding(Forwarding other) {
      this(other.delegate, other.host);
    }

    @Override
    public int port() {
      return delegate.port();
    }

    @Override
    public DivertHost host() {
      return host;
    }

    @Override
    public DivertAddress receive(ByteBuffer dst) throws DivertException {
      return delegate.receive(dst);
    }

    @Override
    public DivertAddress receive(ByteBuffer dst, Duration timeout) throws DivertException {
      return delegate.receive(dst, timeout);
    }

    @Override
    public int receive(PacketBatch batch, Duration timeout) throws DivertException {
      return delegate.receive(batch, timeout);
    }

    @Override
    public void send(ByteBuffer packet, DivertAddress address) throws DivertException {
      delegate.send(packet, address);
    }

    @Override
    public int send(PacketBatch batch) throws DivertException {
      return delegate.send(batch);
    }

    @Override
    public void drop(DivertAddress address) throws DivertException {
      delegate.drop(address);
    }

    @Override
    public SocketStats stats() {
      return delegate.stats();
    }

    @Override
    public boolean isOpen() {
      return delegate.isOpen();
    }

    @Override
    public void close() {
      delegate.close();
    }
  }

  private static final class Host implements DivertHost {
    private final DivertHost delegate;
    private final Fault fault;

    Host(DivertHost delegate, Fault fault) {
      this.delegate = delegate;
      this.fault = fault;
    }

    @Override
    public String backend() {
      return delegate.backend();
    }

    @Override
    public String name() {
      return delegate.name();
    }

    @Override
    public HostOptions options() {
      return delegate.options();
    }

    @Override
    public Set<Capability> capabilities() {
      return delegate.capabilities();
    }

    @Override
    public List<NetInterface> interfaces() throws DivertException {
      return delegate.interfaces();
    }

    @Override
    public InstalledRule addRule(DivertRule rule) throws DivertException {
      return fault.addRule(delegate, rule);
    }

    @Override
    public InstalledRule insertRule(int index, DivertRule rule) throws DivertException {
      return fault.insertRule(delegate, index, rule);
    }

    @Override
    public List<InstalledRule> rules() {
      return delegate.rules();
    }

    @Override
    public DivertSocket bind(int port) throws DivertException {
      return fault.socket(new Forwarding(fault.bind(delegate, port), this));
    }

    @Override
    public org.divert4j.TimestampClock timestampClock() {
      return delegate.timestampClock();
    }

    @Override
    public HostStats stats() {
      return fault.stats(delegate);
    }

    @Override
    public boolean isOpen() {
      return delegate.isOpen();
    }

    @Override
    public void close() throws DivertException {
      delegate.close();
    }
  }

  private static final class Bed implements TestBed {
    private final TestBed delegate;
    private final Fault fault;
    private final String name;
    private final DivertHost host;

    Bed(TestBed delegate, Fault fault, String name) {
      this.delegate = delegate;
      this.fault = fault;
      this.name = name;
      this.host = new Host(delegate.host(), fault);
    }

    @Override
    public String backend() {
      return name;
    }

    @Override
    public TestBedOptions options() {
      return delegate.options();
    }

    @Override
    public DivertHost host() {
      return host;
    }

    @Override
    public TestNode hostNode() {
      return delegate.hostNode();
    }

    @Override
    public TestNode peer() {
      return delegate.peer();
    }

    @Override
    public Optional<TestNode> farPeer() {
      return delegate.farPeer();
    }

    @Override
    public Set<Capability> capabilities() {
      return delegate.capabilities();
    }

    @Override
    public Duration settleTime() {
      return delegate.settleTime();
    }

    @Override
    public void advance(Duration duration) throws InterruptedException {
      delegate.advance(duration);
    }

    @Override
    public DivertHost openAnotherHost(HostOptions options) throws DivertException {
      return new Host(delegate.openAnotherHost(options), fault);
    }

    @Override
    public java.util.List<String> hostState() throws java.io.IOException {
      return fault.hostState(delegate);
    }

    @Override
    public java.util.OptionalLong reassemblyBytesHeld() {
      return delegate.reassemblyBytesHeld();
    }

    @Override
    public DivertHost openUnprivileged(HostOptions options) throws DivertException {
      return fault.openUnprivileged(delegate, options);
    }

    @Override
    public void close() {
      delegate.close();
    }
  }

  private static final class Provider implements DivertProvider {
    private final String name;
    private final DivertProvider delegate;
    private final Fault fault;

    Provider(String name, DivertProvider delegate, Fault fault) {
      this.name = name;
      this.delegate = delegate;
      this.fault = fault;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public String description() {
      return "the simulation with a fault";
    }

    @Override
    public int priority() {
      return -1;
    }

    @Override
    public boolean autoSelectable() {
      return false;
    }

    @Override
    public Availability availability() {
      return delegate.availability();
    }

    @Override
    public Set<Capability> capabilities() {
      return delegate.capabilities();
    }

    @Override
    public java.util.List<String> privileges() {
      return delegate.privileges();
    }

    @Override
    public DivertHost open(HostOptions options) throws DivertException {
      return new Host(delegate.open(options), fault);
    }

    @Override
    public TestBed testBed(TestBedOptions options) throws DivertException {
      return new Bed(delegate.testBed(fault.testBedOptions(options)), fault, name);
    }
  }

  /**
   * @param name the broken backend's name
   * @param wrap wraps each socket with a subclass of {@link Forwarding} that adds the fault
   * @return the simulation with that fault in its sockets
   */
  static DivertProvider sockets(String name, Function<Forwarding, DivertSocket> wrap) {
    return provider(
        name,
        new Fault() {
          @Override
          public DivertSocket socket(Forwarding socket) {
            return wrap.apply(socket);
          }
        });
  }
}
