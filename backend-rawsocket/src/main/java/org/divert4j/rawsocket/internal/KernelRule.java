package org.divert4j.rawsocket.internal;

import org.divert4j.DivertException;
import org.divert4j.DivertRule;
import org.divert4j.InstalledRule;

/** A divert rule a kernel host installed; its id is its tag in the namespace ({@link Marks}). */
final class KernelRule implements InstalledRule {
  private final RuleBook book;
  private final int id;
  private final DivertRule rule;
  private volatile boolean installed = true;

  KernelRule(RuleBook book, int id, DivertRule rule) {
    this.book = book;
    this.id = id;
    this.rule = rule;
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

  void markRemoved() {
    installed = false;
  }

  @Override
  public void remove() throws DivertException {
    if (installed) {
      book.remove(this);
    }
  }

  @Override
  public String toString() {
    return "rule " + id + ": " + rule;
  }
}
