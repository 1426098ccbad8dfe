package org.divert4j.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Holds the TCK to its own conventions: every rule has a test named after it, and so on. */
class RuleCoverageTest {
  private static List<Method> ruleTests() {
    List<Method> all = new ArrayList<>();
    for (Class<?> c : Tck.verifications()) {
      for (Method m : c.getDeclaredMethods()) {
        if (m.isAnnotationPresent(SpecRule.class)) {
          all.add(m);
        }
      }
    }
    return all;
  }

  @Test
  void everyRuleOfTheSpecificationHasATestNamedAfterIt() {
    Map<String, List<String>> byRule = new TreeMap<>();
    for (Method m : ruleTests()) {
      byRule
          .computeIfAbsent(m.getAnnotation(SpecRule.class).id(), k -> new ArrayList<>())
          .add(m.getName());
    }
    List<String> missing = new ArrayList<>();
    for (String id : SpecRules.ids()) {
      if (!byRule.containsKey(id)) {
        missing.add(id);
      }
    }
    assertTrue(missing.isEmpty(), "rules without a test: " + missing);
    for (String id : byRule.keySet()) {
      assertTrue(SpecRules.find(id).isPresent(), id + " is not a rule of SEMANTICS.md");
    }
  }

  @Test
  void everyRequiredRuleHasAnUngatedMustTest() {
    for (String id : SpecRules.ids()) {
      boolean found = false;
      for (Method m : ruleTests()) {
        SpecRule r = m.getAnnotation(SpecRule.class);
        found |= r.id().equals(id) && r.level() == Level.MUST && r.capabilities().length == 0;
      }
      // S52 is a SHOULD; S73 is capability-gated whole, and S74 concerns only backends that keep
      // state in packet marks, which only a backend with marks (PACKET_MARK) can
      boolean gated = SpecRules.find(id).get().note().startsWith("whole rule: cap ");
      if (!Set.of("S52", "S73", "S74").contains(id) && !gated) {
        assertTrue(found, id + " needs a MUST test that every backend runs");
      }
    }
  }

  @Test
  void onlyTheShouldRulesOfTheSpecificationAreOptional() {
    for (Method m : ruleTests()) {
      SpecRule r = m.getAnnotation(SpecRule.class);
      if (r.level() == Level.SHOULD) {
        assertTrue(Set.of("S12", "S52").contains(r.id()), m.getName() + " is not a SHOULD rule");
      }
      if (r.id().equals("S52")) {
        assertEquals(Level.SHOULD, r.level(), m.getName() + ": S52 is a SHOULD rule");
      }
    }
  }

  @Test
  void testsFollowTheConventions() {
    for (Method m : ruleTests()) {
      SpecRule r = m.getAnnotation(SpecRule.class);
      String where = m.getDeclaringClass().getSimpleName() + "." + m.getName();
      assertTrue(m.getName().startsWith(r.id() + "_"), where + " must start with " + r.id() + "_");
      assertTrue(Modifier.isPublic(m.getModifiers()), where + " must be public");
      assertNotNull(m.getAnnotation(Test.class), where + " must be a @Test");
      assertEquals(1, m.getParameterCount(), where + " takes the TckContext");
      assertEquals(TckContext.class, m.getParameterTypes()[0], where + " takes the TckContext");
    }
    for (Class<?> c : Tck.verifications()) {
      assertNotNull(c.getAnnotation(SpecArea.class), c + " needs @SpecArea");
      assertTrue(c.getSimpleName().endsWith("Verification"), c + " must end with Verification");
    }
  }

  @Test
  void testNamesAreUnique() {
    Set<String> seen = new java.util.HashSet<>();
    for (Method m : ruleTests()) {
      if (!seen.add(m.getName())) {
        fail("duplicate test name " + m.getName());
      }
    }
  }
}
