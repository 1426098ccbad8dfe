package org.divert4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.UncheckedIOException;
import java.util.List;
import org.divert4j.spi.DivertProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class DivertSelectionTest {
  @AfterEach
  void clearProperty() {
    System.clearProperty(Divert.BACKEND_PROPERTY);
  }

  private static DivertProvider named(String name) {
    return Divert.providers().stream().filter(p -> p.name().equals(name)).findFirst().orElseThrow();
  }

  @Test
  void discoverySurvivesAProviderThatCannotLoad() {
    List<DivertProvider> all = Divert.providers();
    assertEquals(5, all.size(), all.toString());
    DivertProvider broken =
        all.stream().filter(p -> p.name().startsWith("unloadable:")).findFirst().orElseThrow();
    assertFalse(broken.availability().available());
    assertTrue(broken.availability().reason().contains("com/example/missing/Dependency"));
    assertTrue(broken.name().contains("TestProviders$Unloadable"), broken.name());
  }

  @Test
  void providersAreListedByDescendingPriority() {
    List<DivertProvider> all = Divert.providers();
    for (int i = 1; i < all.size(); i++) {
      assertTrue(all.get(i - 1).priority() >= all.get(i).priority());
    }
  }

  @Test
  void automaticSelectionTakesTheBestAvailableAutoSelectableProvider() throws Exception {
    // namedonly (100) is never auto-selected, unloadable (50), missinglib (30) and beta (20) are
    // unavailable: alpha (10) wins.
    assertEquals("alpha", Divert.select(Divert.providers(), null).name());
  }

  @Test
  void aNamedOnlyProviderIsNeverSelectedAutomatically() {
    List<DivertProvider> onlyNamed = List.of(named("namedonly"));
    BackendUnavailableException e =
        assertThrows(BackendUnavailableException.class, () -> Divert.select(onlyNamed, null));
    assertTrue(e.getMessage().contains("never chosen automatically"), e.getMessage());
    assertTrue(e.getMessage().contains("namedonly"), e.getMessage());
  }

  @Test
  void selectionByName() throws Exception {
    assertEquals("namedonly", Divert.provider("namedonly").name());
    assertEquals("namedonly", Divert.provider(" NamedOnly ").name());
  }

  @Test
  void requireProviderIsTheSameSelectionUnchecked() {
    assertEquals("namedonly", Divert.requireProvider(" NamedOnly ").name());
    UncheckedIOException e =
        assertThrows(UncheckedIOException.class, () -> Divert.requireProvider("beta"));
    BackendUnavailableException cause =
        assertInstanceOf(BackendUnavailableException.class, e.getCause());
    assertEquals(cause.getMessage(), e.getMessage());
    assertTrue(e.getMessage().contains("beta needs the beta kernel module"), e.getMessage());
    assertThrows(UncheckedIOException.class, () -> Divert.requireProvider("nosuch"));
  }

  @Test
  void findProviderIsPresentOnlyWhenAvailable() {
    assertEquals("alpha", Divert.findProvider("ALPHA").orElseThrow().name());
    assertTrue(Divert.findProvider("beta").isEmpty(), "beta is found but unavailable");
    assertTrue(Divert.findProvider("missinglib").isEmpty(), "its library is missing");
    assertTrue(Divert.findProvider("nosuch").isEmpty());
  }

  @Test
  void selectionByProperty() throws Exception {
    System.setProperty(Divert.BACKEND_PROPERTY, "namedonly");
    assertEquals("namedonly", Divert.requestedBackend());
    assertEquals("namedonly", Divert.provider().name());
  }

  @Test
  void aNamedUnavailableProviderFailsWithEveryReason() {
    BackendUnavailableException e =
        assertThrows(BackendUnavailableException.class, () -> Divert.provider("beta"));
    String m = e.getMessage();
    assertTrue(m.contains("'beta' is unavailable: beta needs the beta kernel module"), m);
    assertTrue(m.contains("missinglib (priority 30): unavailable: com.example.missing"), m);
    assertTrue(m.contains("alpha (priority 10): available"), m);
  }

  @Test
  void aProviderWithAMissingDependencyIsUnavailableWithWhy() {
    DivertProvider p = named("missinglib");
    assertFalse(p.availability().available());
    assertTrue(p.availability().cause() instanceof ClassNotFoundException);
    BackendUnavailableException e =
        assertThrows(BackendUnavailableException.class, () -> Divert.provider("missinglib"));
    assertTrue(e.getMessage().contains("NativeLib is not on the class path"), e.getMessage());
  }

  @Test
  void aMissingProviderNameFailsListingTheOthers() {
    System.setProperty(Divert.BACKEND_PROPERTY, "nosuch");
    BackendUnavailableException e =
        assertThrows(BackendUnavailableException.class, Divert::provider);
    assertTrue(e.getMessage().contains("'nosuch' was not found"), e.getMessage());
    assertTrue(e.getMessage().contains("alpha"), e.getMessage());
  }

  @Test
  void noProvidersAtAll() {
    BackendUnavailableException e =
        assertThrows(BackendUnavailableException.class, () -> Divert.select(List.of(), null));
    assertTrue(e.getMessage().contains("no providers were found"), e.getMessage());
  }

  @Test
  void aNamedProviderLackingPrivilegesFailsWithItsPermissionError() {
    PermissionException denied =
        new PermissionException("opening beta", List.of("CAP_NET_ADMIN"), 1, null);
    PermissionException e =
        assertThrows(
            PermissionException.class,
            () ->
                Divert.open(
                    Divert.providers(),
                    "beta",
                    p -> {
                      assertEquals("beta", p.name());
                      throw denied;
                    }));
    assertEquals(List.of("CAP_NET_ADMIN"), e.missing());
  }

  @Test
  void aNamedUnavailableProviderThatCanStillOpenDoesSo() throws Exception {
    assertEquals("beta", Divert.open(Divert.providers(), "beta", DivertProvider::name));
  }

  @Test
  void otherFailuresOfANamedUnavailableProviderListEveryProvider() {
    System.setProperty(Divert.BACKEND_PROPERTY, "beta");
    BackendUnavailableException e =
        assertThrows(BackendUnavailableException.class, () -> Divert.open());
    assertTrue(e.getMessage().contains("'beta' is unavailable"), e.getMessage());
    assertEquals(1, e.getSuppressed().length);
    assertTrue(e.getSuppressed()[0].getMessage().contains("opens nothing"));
  }
}
