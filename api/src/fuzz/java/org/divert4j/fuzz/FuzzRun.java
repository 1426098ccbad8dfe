package org.divert4j.fuzz;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import net.jqwik.api.lifecycle.AroundPropertyHook;
import net.jqwik.api.lifecycle.AroundTryHook;
import net.jqwik.api.lifecycle.LifecycleContext;
import net.jqwik.api.lifecycle.PropertyExecutionResult;
import net.jqwik.api.lifecycle.PropertyExecutor;
import net.jqwik.api.lifecycle.PropertyLifecycleContext;
import net.jqwik.api.lifecycle.SkipExecutionHook;
import net.jqwik.api.lifecycle.TryExecutionResult;
import net.jqwik.api.lifecycle.TryExecutor;
import net.jqwik.api.lifecycle.TryLifecycleContext;

/**
 * The jqwik hook of the fuzz properties (register it with {@code @AddLifecycleHook(FuzzRun.class)}
 * on the class, and give each property a {@link Tries}).
 *
 * <ul>
 *   <li>Tries come from the reliability switch shared by all long tests: {@code
 *       -Ddivert.reliability=long} runs {@link Tries#longRun()} tries, anything else {@link
 *       Tries#shortRun()} (the CI run).
 *   <li>Inputs: a try counts as one input unless the property counts the inputs it feeds the target
 *       itself with {@link #inputs(long)} (a stream of packets per try, say).
 *   <li>Hangs: a watchdog fails the run when one try takes longer than {@link #HANG_SECONDS}: it
 *       prints every thread's stack and halts the test JVM, so a hang is a failed build with the
 *       culprit's stack, never a stuck one.
 *   <li>Needs: a property annotated {@link Requires} is skipped, with the reason printed, where its
 *       check answers a reason (no root, no libpcap): skipped as a whole, rather than failing on
 *       tries that all abort.
 *   <li>Each property prints one line, {@code FUZZ <class>.<property>: <tries> tries, <inputs>
 *       inputs, <failures> failures, slowest try <ms> ms, <s> s}, which docs/reliability.md cites.
 * </ul>
 */
public final class FuzzRun implements AroundPropertyHook, AroundTryHook, SkipExecutionHook {
  /** True when {@code -Ddivert.reliability=long}. */
  public static final boolean LONG = "long".equals(System.getProperty("divert.reliability"));

  /** A try that runs longer than this is a hang. */
  public static final int HANG_SECONDS = 60;

  /** How many tries a fuzz property runs, short (CI) and long. */
  @Retention(RetentionPolicy.RUNTIME)
  @Target(ElementType.METHOD)
  public @interface Tries {
    /** Tries in the default, short run. */
    int shortRun();

    /** Tries with {@code -Ddivert.reliability=long}. */
    int longRun();
  }

  /** What a property needs: a check that answers null where it can run, else why not. */
  @Retention(RetentionPolicy.RUNTIME)
  @Target(ElementType.METHOD)
  public @interface Requires {
    /** The check, with a no-argument constructor. */
    Class<? extends Supplier<String>> value();
  }

  private static final AtomicLong INPUTS = new AtomicLong();
  private static volatile long tryStarted;
  private static volatile Thread runner;
  private static final Thread WATCHDOG = watchdog();

  /**
   * Counts inputs fed to the target in this try (when a try feeds more than one).
   *
   * @param n inputs
   */
  public static void inputs(long n) {
    INPUTS.addAndGet(n);
  }

  @Override
  public SkipResult shouldBeSkipped(LifecycleContext context) {
    Requires needs = context.findAnnotation(Requires.class).orElse(null);
    if (needs == null) {
      return SkipResult.doNotSkip();
    }
    String why;
    try {
      var c = needs.value().getDeclaredConstructor();
      c.setAccessible(true);
      why = c.newInstance().get();
    } catch (ReflectiveOperationException | RuntimeException e) {
      why = "cannot tell whether it can run: " + e;
    }
    if (why == null) {
      return SkipResult.doNotSkip();
    }
    System.out.println("FUZZ " + context.label() + " skipped: " + why);
    return SkipResult.skip(why);
  }

  @Override
  public PropertyExecutionResult aroundProperty(
      PropertyLifecycleContext context, PropertyExecutor property) {
    Tries t = context.findAnnotation(Tries.class).orElse(null);
    if (t != null) {
      context.attributes().setTries(LONG ? t.longRun() : t.shortRun());
    }
    INPUTS.set(0);
    slowest = 0;
    long start = System.nanoTime();
    PropertyExecutionResult r = property.execute();
    long counted = INPUTS.get();
    long inputs = counted > 0 ? counted : r.countTries();
    System.out.printf(
        "FUZZ %s.%s: %d tries, %d inputs, %d failures, slowest try %d ms, %.1f s (%s run)%n",
        context.containerClass().getSimpleName(),
        context.targetMethod().getName(),
        r.countTries(),
        inputs,
        r.status() == PropertyExecutionResult.Status.SUCCESSFUL ? 0 : 1,
        slowest / 1_000_000,
        (System.nanoTime() - start) / 1e9,
        LONG ? "long" : "short");
    return r;
  }

  private static volatile long slowest;

  @Override
  public TryExecutionResult aroundTry(
      TryLifecycleContext context, TryExecutor aTry, List<Object> parameters) {
    runner = Thread.currentThread();
    long s = System.nanoTime();
    tryStarted = s;
    try {
      return aTry.execute(parameters);
    } finally {
      tryStarted = 0;
      long d = System.nanoTime() - s;
      if (d > slowest) {
        slowest = d;
      }
    }
  }

  private static Thread watchdog() {
    Thread w =
        new Thread(
            () -> {
              while (true) {
                try {
                  Thread.sleep(1000);
                } catch (InterruptedException e) {
                  return;
                }
                long s = tryStarted;
                if (s != 0 && System.nanoTime() - s > HANG_SECONDS * 1_000_000_000L) {
                  System.err.println("FUZZ HANG: one try ran over " + HANG_SECONDS + " s");
                  for (Map.Entry<Thread, StackTraceElement[]> e :
                      Thread.getAllStackTraces().entrySet()) {
                    if (e.getKey() == runner) {
                      System.err.println("  " + e.getKey());
                      for (StackTraceElement el : e.getValue()) {
                        System.err.println("    at " + el);
                      }
                    }
                  }
                  Runtime.getRuntime().halt(97);
                }
              }
            },
            "fuzz-watchdog");
    w.setDaemon(true);
    w.start();
    return w;
  }
}
