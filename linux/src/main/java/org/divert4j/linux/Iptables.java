package org.divert4j.linux;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The iptables flavour in use and how to run it inside a namespace: {@code iptables-nft} (nf_tables
 * kernel API) when present, else {@code iptables-legacy}, else whatever {@code iptables} is. The
 * property {@code rawsocket.iptables} ({@code nft} or {@code legacy}) forces one. Commands run
 * through {@code nsenter --net=PATH}, so the JVM's own namespace is never touched.
 *
 * <p>Immutable and thread-safe.
 */
public final class Iptables {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  private final String save;
  private final String restore;
  private final boolean legacy;
  private final boolean nftables;
  private final String version;
  private final Iptables six;

  private Iptables(
      String save, String restore, boolean legacy, boolean nftables, String version, Iptables six) {
    this.save = save;
    this.restore = restore;
    this.legacy = legacy;
    this.nftables = nftables;
    this.version = version;
    this.six = six;
  }

  /**
   * Finds a usable iptables.
   *
   * @param preference {@code nft}, {@code legacy}, or null for automatic
   * @return the flavour, or empty if none is installed
   */
  public static Optional<Iptables> detect(String preference) {
    List<String[]> candidates = new ArrayList<>();
    if (!"legacy".equals(preference)) {
      candidates.add(new String[] {"iptables-nft", "iptables-nft-save", "iptables-nft-restore"});
    }
    if (!"nft".equals(preference)) {
      candidates.add(
          new String[] {"iptables-legacy", "iptables-legacy-save", "iptables-legacy-restore"});
    }
    candidates.add(new String[] {"iptables", "iptables-save", "iptables-restore"});
    for (String[] c : candidates) {
      Optional<Path> main = Shell.which(c[0]);
      Optional<Path> s = Shell.which(c[1]);
      Optional<Path> r = Shell.which(c[2]);
      if (main.isEmpty() || s.isEmpty() || r.isEmpty()) {
        continue;
      }
      try {
        Shell.Result v = Shell.run(main.get().toString(), "-V");
        if (v.ok()) {
          String text = v.stdout().trim();
          boolean isLegacy = c[0].endsWith("legacy") || text.contains("legacy");
          boolean nft = !isLegacy && text.contains("(nf_tables)");
          return Optional.of(
              new Iptables(
                  s.get().toString(),
                  r.get().toString(),
                  isLegacy,
                  nft,
                  text,
                  sixOf(c, isLegacy, nft)));
        }
      } catch (IOException e) {
        // try the next one
      }
    }
    return Optional.empty();
  }

  /**
   * The ip6tables of the same flavour (the names with {@code ip6tables} for {@code iptables}): IPv4
   * and IPv6 rules must live in the same kernel API, or a legacy and an nft table would both hook
   * the same point.
   */
  private static Iptables sixOf(String[] c, boolean legacy, boolean nftables) {
    Optional<Path> s = Shell.which(c[1].replace("iptables", "ip6tables"));
    Optional<Path> r = Shell.which(c[2].replace("iptables", "ip6tables"));
    if (s.isEmpty() || r.isEmpty()) {
      return null;
    }
    return new Iptables(
        s.get().toString(), r.get().toString(), legacy, nftables, "ip6tables", null);
  }

  /**
   * @return the ip6tables of the same flavour, or empty if it is not installed (for an IPv6
   *     instance: empty)
   */
  public Optional<Iptables> ipv6() {
    return Optional.ofNullable(six);
  }

  /**
   * @return true for iptables-legacy (needs {@code -w} for the xtables lock)
   */
  public boolean legacy() {
    return legacy;
  }

  /**
   * @return true when {@code -V} says {@code (nf_tables)}: the rules live in nf_tables, where they
   *     can also be read over netlink (false for legacy, and for an {@code iptables} that does not
   *     say)
   */
  public boolean nftables() {
    return nftables;
  }

  /**
   * @return e.g. {@code iptables v1.8.9 (nf_tables)}
   */
  public String version() {
    return version;
  }

  /**
   * The command of {@link #restore}, to run in a namespace some other way (its standard input is
   * the script).
   *
   * @return the program and its arguments
   */
  public List<String> restoreCommand() {
    List<String> cmd = new ArrayList<>(List.of(restore, "--noflush", "--counters"));
    if (legacy) {
      cmd.add("-w");
    }
    return cmd;
  }

  /**
   * The command of {@link #save(String, String)}, to run in a namespace some other way.
   *
   * @param table e.g. {@code mangle}
   * @return the program and its arguments
   */
  public List<String> saveCommand(String table) {
    return List.of(save, "-c", "-t", table);
  }

  /**
   * Dumps one table, with counters.
   *
   * @param nsPath the namespace
   * @param table e.g. {@code raw}
   * @return the iptables-save text (empty if the table does not exist)
   * @throws IOException if iptables fails otherwise
   */
  public String save(String nsPath, String table) throws IOException {
    Shell.Result r =
        Shell.run(null, TIMEOUT, Shell.inNetns(nsPath, List.of(save, "-c", "-t", table)));
    if (!r.ok()) {
      if (r.stderr().contains("does not exist") || r.stderr().contains("No chain/target/match")) {
        return "";
      }
      throw new IOException(r.describe());
    }
    return r.stdout();
  }

  /**
   * Dumps some tables, with counters, as {@link #save} gives each, in one process where that gives
   * the same text: with iptables-nft one {@link #saveAll} and its sections of those tables (a table
   * that does not exist has none, as {@link #save} gives nothing for it); with iptables-legacy one
   * {@link #save} per table, which loads a table that is not loaded yet, as it always did.
   *
   * @param nsPath the namespace
   * @param tables e.g. {@code raw}, {@code mangle}
   * @return the iptables-save text of each table, in the order given
   * @throws IOException if iptables fails
   */
  public String[] save(String nsPath, String... tables) throws IOException {
    String[] out = new String[tables.length];
    if (!nftables) {
      for (int i = 0; i < tables.length; i++) {
        out[i] = save(nsPath, tables[i]);
      }
      return out;
    }
    String all = saveAll(nsPath);
    for (int i = 0; i < tables.length; i++) {
      out[i] = section(all, tables[i]);
    }
    return out;
  }

  /**
   * One table's part of an iptables-save text: from its {@code *table} line through its {@code
   * COMMIT}.
   *
   * @param save the text of {@link #saveAll}
   * @param table e.g. {@code raw}
   * @return that part, or empty if the text has no such table
   */
  public static String section(String save, String table) {
    String head = "*" + table + "\n";
    int from = save.startsWith(head) ? 0 : save.indexOf("\n" + head);
    if (from < 0) {
      return "";
    }
    from = save.charAt(from) == '\n' ? from + 1 : from;
    int commit = save.indexOf("\nCOMMIT\n", from);
    return commit < 0 ? save.substring(from) : save.substring(from, commit + 8);
  }

  /**
   * Dumps every table that exists, with counters. Unlike {@link #save} with a table name, this
   * never makes the kernel load a table (iptables-legacy-save reads {@code ip_tables_names}).
   *
   * @param nsPath the namespace
   * @return the iptables-save text
   * @throws IOException if iptables fails
   */
  public String saveAll(String nsPath) throws IOException {
    Shell.Result r = Shell.run(null, TIMEOUT, Shell.inNetns(nsPath, List.of(save, "-c")));
    if (!r.ok()) {
      throw new IOException(r.describe());
    }
    return r.stdout();
  }

  /**
   * Applies an iptables-restore script without flushing what it does not name, keeping the counters
   * it gives. Atomic per table (legacy replaces the table blob; nft commits one transaction).
   *
   * @param nsPath the namespace
   * @param script the script
   * @throws IOException if iptables refuses it; the message has its error
   */
  public void restore(String nsPath, String script) throws IOException {
    Shell.Result r = Shell.run(script, TIMEOUT, Shell.inNetns(nsPath, restoreCommand()));
    if (!r.ok()) {
      throw new IOException(r.describe() + "\nscript:\n" + script);
    }
  }

  @Override
  public String toString() {
    return version + " (" + save + ")";
  }
}
