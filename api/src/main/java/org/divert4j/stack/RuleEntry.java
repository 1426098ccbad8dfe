package org.divert4j.stack;

import org.divert4j.DivertException;
import org.divert4j.DivertRule;
import org.divert4j.InstalledRule;
import org.divert4j.NoListenerPolicy;

/** One rule in an engine's chain, owned by the host handle that installed it. Thread-safe. */
final class RuleEntry implements InstalledRule {
  final DivertRule rule;
  final int id;
  final int port;
  final NoListenerPolicy noListener;
  final EngineHost owner;
  volatile boolean installed = true;

  RuleEntry(DivertRule rule, int id, NoListenerPolicy noListener, EngineHost owner) {
    this.rule = rule;
    this.id = id;
    this.port = rule.port();
    this.noListener = noListener;
    this.owner = owner;
  }

  @Override
  public int id() {
    return id;
  }

  @Override
  public DivertRule rule() {
    return rule;
  }

  @Override
  public boolean isInstalled() {
    return installed;
  }

  @Override
  public void remove() throws DivertException {
    owner.remove(this);
  }

  @Override
  public String toString() {
    return "#"
        + id
        + " "
        + rule
        + (noListener == NoListenerPolicy.PASS_THROUGH ? " (pass-through)" : "");
  }
}
