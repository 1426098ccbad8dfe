package org.divert4j.rawsocket.internal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The parsed divert4j part of one table. */
final class RuleTable {
  final String name;
  final Map<String, List<RuleLine>> chains = new LinkedHashMap<>();
  final List<RuleLine> builtinOurs = new ArrayList<>();
  final Map<String, String> counters = new HashMap<>();

  RuleTable(String name) {
    this.name = name;
  }
}
