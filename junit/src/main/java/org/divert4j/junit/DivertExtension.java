package org.divert4j.junit;

import java.lang.reflect.Executable;
import java.lang.reflect.Parameter;
import java.util.Optional;
import org.divert4j.BackendUnavailableException;
import org.divert4j.Capability;
import org.divert4j.Divert;
import org.divert4j.DivertException;
import org.divert4j.DivertHost;
import org.divert4j.PermissionException;
import org.divert4j.spi.DivertProvider;
import org.divert4j.testbed.TestBed;
import org.divert4j.testbed.TestBedOptions;
import org.divert4j.testbed.TestNode;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ExtensionContext.Namespace;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.platform.commons.support.AnnotationSupport;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/**
 * Hands tests a {@link TestBed} on the backend named by {@value #BACKEND_PROPERTY} (default {@value
 * #DEFAULT_BACKEND}), and closes it after the test, also when the test failed. Register it with
 * {@link DivertTestBed} (or {@code @ExtendWith(DivertExtension.class)}), then ask for any of these
 * as parameters of a test method, of a {@code @BeforeEach} or {@code @AfterEach} method:
 *
 * <ul>
 *   <li>{@link TestBed}: the whole test bed;
 *   <li>{@link DivertHost}: its host under diversion ({@link TestBed#host()});
 *   <li>{@link TestNode} annotated {@link Peer}, {@link HostNode} or {@link FarPeer}.
 * </ul>
 *
 * All parameters of one test share one test bed, built from the nearest {@link DivertTestBed}
 * (method, then class, then enclosing classes) and with a far peer if any parameter asks for one. A
 * constructor or {@code @BeforeAll} parameter gets one test bed for the whole class instead, and
 * the class's tests share it.
 *
 * <p><b>Unavailable backends.</b> When the test method asks for a test bed, the extension opens it
 * before the test's {@code @BeforeEach} methods run. If the backend is missing from the class path,
 * unavailable (no privileges, no kernel module, ...), or refuses to open for lack of privileges,
 * the test is skipped (aborted) with the reason. With {@value #REQUIRE_AVAILABLE_PROPERTY}{@code
 * =true} (CI) it fails instead. A test asking for a far peer on a backend without {@link
 * Capability#FORWARD} is skipped the same way. Any other failure to open fails the test.
 *
 * <p><b>Settings.</b> Each is a JUnit configuration parameter or system property, else an
 * environment variable: {@value #BACKEND_PROPERTY} ({@code DIVERT_BACKEND}) and {@value
 * #REQUIRE_AVAILABLE_PROPERTY} ({@code DIVERT_TCK_REQUIRE_AVAILABLE}), the names the TCK also
 * reads.
 *
 * <p><b>Threads.</b> JUnit calls the extension on the test's thread; test beds of tests running in
 * parallel are independent.
 */
public final class DivertExtension
    implements BeforeEachCallback, AfterEachCallback, ParameterResolver {
  /** Names the backend to open test beds on: {@value}. */
  public static final String BACKEND_PROPERTY = Divert.BACKEND_PROPERTY;

  /** {@code true}: an unavailable backend fails the test instead of skipping it: {@value}. */
  public static final String REQUIRE_AVAILABLE_PROPERTY = "divert.tck.requireAvailable";

  /** The backend used when none is named: {@value}, which needs no privileges. */
  public static final String DEFAULT_BACKEND = "sim";

  private static final Namespace NAMESPACE = Namespace.create(DivertExtension.class);
  private static final String KEY = "testBed";

  /** For JUnit. */
  public DivertExtension() {}

  @Override
  public void beforeEach(ExtensionContext context) {
    Executable method = context.getRequiredTestMethod();
    if (asksForTestBed(method)) {
      TestBed bed = testBed(context, method);
      if (asksFor(method, FarPeer.class) && bed.farPeer().isEmpty()) {
        throw new TestAbortedException(
            "divert backend '"
                + bed.backend()
                + "' has no far peer: its test beds lack "
                + Capability.FORWARD);
      }
    }
  }

  @Override
  public void afterEach(ExtensionContext context) {
    // Only this test's own test bed: one opened for the class stays for its other tests.
    Opened opened = context.getStore(NAMESPACE).remove(KEY, Opened.class);
    if (opened != null) {
      opened.close();
    }
  }

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    Class<?> type = parameter.getParameter().getType();
    if (type == TestBed.class || type == DivertHost.class) {
      return true;
    }
    if (type == TestNode.class) {
      if (role(parameter.getParameter()) == null) {
        throw new ParameterResolutionException(
            "a TestNode parameter needs @Peer, @HostNode or @FarPeer to say which node: "
                + parameter.getParameter());
      }
      return true;
    }
    return false;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    TestBed bed = testBed(context, parameter.getDeclaringExecutable());
    Parameter p = parameter.getParameter();
    if (p.getType() == TestBed.class) {
      return bed;
    }
    if (p.getType() == DivertHost.class) {
      return bed.host();
    }
    Class<?> role = role(p);
    if (role == Peer.class) {
      return bed.peer();
    }
    if (role == HostNode.class) {
      return bed.hostNode();
    }
    return bed.farPeer()
        .orElseThrow(
            () ->
                new ParameterResolutionException(
                    "divert backend '"
                        + bed.backend()
                        + "' has no far peer: its test beds lack "
                        + Capability.FORWARD));
  }

  private static Class<?> role(Parameter p) {
    if (p.isAnnotationPresent(Peer.class)) {
      return Peer.class;
    }
    if (p.isAnnotationPresent(HostNode.class)) {
      return HostNode.class;
    }
    if (p.isAnnotationPresent(FarPeer.class)) {
      return FarPeer.class;
    }
    return null;
  }

  private static boolean asksForTestBed(Executable method) {
    for (Parameter p : method.getParameters()) {
      Class<?> t = p.getType();
      if (t == TestBed.class || t == DivertHost.class || t == TestNode.class) {
        return true;
      }
    }
    return false;
  }

  private static boolean asksFor(
      Executable method, Class<? extends java.lang.annotation.Annotation> a) {
    for (Parameter p : method.getParameters()) {
      if (p.isAnnotationPresent(a)) {
        return true;
      }
    }
    return false;
  }

  /** The test bed of this context (or of an enclosing one), opened on first use. */
  private static TestBed testBed(ExtensionContext context, Executable asking) {
    ExtensionContext.Store store = context.getStore(NAMESPACE);
    Opened opened = store.get(KEY, Opened.class);
    if (opened == null) {
      ExtensionSettings settings =
          ExtensionSettings.read(context::getConfigurationParameter, System.getenv());
      opened = new Opened(open(settings, options(context, asking)));
      store.put(KEY, opened);
    }
    return opened.bed;
  }

  static TestBedOptions options(ExtensionContext context, Executable asking) {
    DivertTestBed config = null;
    for (Optional<ExtensionContext> c = Optional.of(context);
        c.isPresent() && config == null;
        c = c.get().getParent()) {
      config =
          c.get()
              .getElement()
              .flatMap(e -> AnnotationSupport.findAnnotation(e, DivertTestBed.class))
              .orElse(null);
    }
    TestBedOptions.Builder b = TestBedOptions.builder();
    if (config != null) {
      b.farPeer(config.farPeer()).peerMtu(config.peerMtu()).farPeerMtu(config.farPeerMtu());
    }
    if (asksFor(asking, FarPeer.class)) {
      b.farPeer(true);
    }
    return b.build();
  }

  /**
   * Opens a test bed on the configured backend; an unavailable backend aborts (skips) the test, or
   * fails it when required.
   */
  static TestBed open(ExtensionSettings settings, TestBedOptions options) {
    DivertProvider provider;
    try {
      provider = Divert.provider(settings.backend());
    } catch (BackendUnavailableException e) {
      throw unavailable(settings, e.getMessage(), e);
    }
    try {
      return provider.testBed(options);
    } catch (PermissionException | BackendUnavailableException e) {
      throw unavailable(
          settings,
          "divert backend '" + settings.backend() + "' cannot open a test bed: " + e.getMessage(),
          e);
    } catch (DivertException e) {
      throw new AssertionFailedError(
          "divert backend '" + settings.backend() + "' failed to open a test bed: " + e, e);
    }
  }

  /** The skip to throw for an unavailable backend; throws the failure itself when required. */
  private static RuntimeException unavailable(
      ExtensionSettings settings, String reason, Exception cause) {
    if (settings.requireAvailable()) {
      throw new AssertionFailedError(
          reason + " (and " + REQUIRE_AVAILABLE_PROPERTY + "=true: failing, not skipping)", cause);
    }
    return new TestAbortedException(reason, cause);
  }

  /** A test bed in a JUnit store: closed by afterEach, or by JUnit when the store closes. */
  private static final class Opened implements AutoCloseable {
    final TestBed bed;

    Opened(TestBed bed) {
      this.bed = bed;
    }

    @Override
    public void close() {
      bed.close(); // idempotent, never throws
    }
  }
}
