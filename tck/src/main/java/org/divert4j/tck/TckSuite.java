package org.divert4j.tck;

import org.junit.jupiter.api.Nested;

/**
 * The "tiny subclass" way to run the whole TCK: a backend's test sources add
 *
 * <pre>{@code
 * class MyBackendTckTest extends TckSuite {
 *   @Override
 *   public DivertProvider provider() {
 *     return new MyProvider();
 *   }
 * }
 * }</pre>
 *
 * and every verification runs against that provider as a nested class of the subclass. The TCK
 * creates one extra instance of the subclass with its no-argument constructor to ask for the
 * provider. Do not combine it with Surefire's {@code dependenciesToScan} of the TCK jar in the same
 * module, or every test runs twice.
 */
public abstract class TckSuite implements TckProviderSource {
  /** For subclasses. */
  protected TckSuite() {}

  /** Area A. */
  @Nested
  public class SocketsAndRules extends SocketsAndRulesVerification {}

  /** Area B. */
  @Nested
  public class Delivery extends DeliveryVerification {}

  /** Area B: the queue. */
  @Nested
  public class Queue extends QueueVerification {}

  /** Area C. */
  @Nested
  public class NoListener extends NoListenerVerification {}

  /** Area D. */
  @Nested
  public class PerFragment extends PerFragmentVerification {}

  /** Area E. */
  @Nested
  public class AlwaysDefragment extends AlwaysDefragmentVerification {}

  /** Area F. */
  @Nested
  public class Mtu extends MtuVerification {}

  /** Area G. */
  @Nested
  public class Injection extends InjectionVerification {}

  /** Area H. */
  @Nested
  public class HeaderFixup extends HeaderFixupVerification {}

  /** Area I. */
  @Nested
  public class Loops extends LoopVerification {}

  /** Area J. */
  @Nested
  public class Errors extends ErrorVerification {}

  /** Area K, matching and delivery. */
  @Nested
  public class Ipv6 extends Ipv6Verification {}

  /** Area K, fragments. */
  @Nested
  public class Ipv6Fragments extends Ipv6FragmentVerification {}

  /** Area K, injection. */
  @Nested
  public class Ipv6Injection extends Ipv6InjectionVerification {}

  /** Area M. */
  @Nested
  public class Filters extends FilterVerification {}

  /** Area N. */
  @Nested
  public class SegmentOffload extends SegmentOffloadVerification {}

  /** Lifecycle. */
  @Nested
  public class Lifecycle extends LifecycleVerification {}

  /** Area O. */
  @Nested
  public class Sniff extends SniffVerification {}

  /** Area P: marks. */
  @Nested
  public class Marks extends MarkVerification {}

  /** Area P: metadata. */
  @Nested
  public class Metadata extends MetadataVerification {}
}
