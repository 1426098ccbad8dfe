package org.divert4j.pcap.internal;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;
import org.divert4j.linux.Ethtool;
import org.divert4j.linux.NetnsThread;

/**
 * What pcap hosts turned off on interfaces ({@code pcap.offloads=disable}), kept in files so that
 * features a dead process turned off are turned back on: one file per interface under {@value
 * #DIR}, named after the namespace's inode and the interface's index (the pair names an interface
 * machine-wide while its namespace lives), holding the namespace path, the interface name, the
 * features to turn back on, and the owner's pid and start time (a pid alone may be reused).
 *
 * <p>Why files in {@code /run}: the features live in the kernel, per interface, and nothing on the
 * interface can carry a note (the kernel backend keeps its notes in the firewall it changes; an
 * interface has no such place). {@code /run} is a tmpfs that the kernel backend's rule lock already
 * uses; it is emptied at boot, when every interface comes back with its driver's defaults and the
 * veths and namespaces a segment used are gone anyway. A file is written before the features are
 * changed, so a crash between the two leaves a file whose restoration turns on what was on.
 *
 * <p>Whoever opens an inline segment first restores what dead owners left ({@link #restoreDead}),
 * as the kernel backend's cleanup removes dead owners' rules. All changes happen under a lock: a
 * JVM lock plus a file lock for other processes. Thread-safe.
 */
final class OffloadLedger {
  static final String DIR = "/run/divert4j/offloads";
  private static final ReentrantLock JVM_LOCK = new ReentrantLock();

  /**
   * One interface's record.
   *
   * @param nsPath the namespace file, or "" for the JVM's own namespace
   * @param nsInode the namespace's inode
   * @param device the interface name
   * @param index its index
   * @param features what to turn back on
   * @param pid the owner's pid
   * @param start the owner's start time, epoch milliseconds (0 if unknown)
   */
  record Entry(
      String nsPath,
      String nsInode,
      String device,
      int index,
      List<String> features,
      long pid,
      long start) {
    Path file(Path dir) {
      return dir.resolve(nsInode + "-" + index + ".offloads");
    }
  }

  private final Path dir;

  OffloadLedger(Path dir) {
    this.dir = dir;
  }

  /** Work done under the ledger's lock. */
  interface Work<T> {
    T run() throws Exception;
  }

  /**
   * Runs work holding the ledger's lock (this JVM's, then the file lock other processes take).
   *
   * @param work the work
   * @param <T> its result
   * @return its result
   * @throws Exception what the work throws, or IOException if the lock cannot be taken
   */
  <T> T locked(Work<T> work) throws Exception {
    JVM_LOCK.lock();
    try {
      Files.createDirectories(dir);
      try (FileChannel ch =
              FileChannel.open(
                  dir.resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
          FileLock l = ch.lock()) {
        return work.run();
      }
    } finally {
      JVM_LOCK.unlock();
    }
  }

  /**
   * Writes an entry (call with the lock held) owned by this process.
   *
   * @param e the entry
   * @throws IOException if writing fails
   */
  void write(Entry e) throws IOException {
    Properties p = new Properties();
    p.setProperty("netns", e.nsPath());
    p.setProperty("inode", e.nsInode());
    p.setProperty("device", e.device());
    p.setProperty("index", Integer.toString(e.index()));
    p.setProperty("features", String.join(",", e.features()));
    p.setProperty("pid", Long.toString(e.pid()));
    p.setProperty("start", Long.toString(e.start()));
    Path tmp = dir.resolve(e.file(dir).getFileName() + ".tmp");
    try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
      p.store(w, "divert4j pcap: offload features to turn back on");
    }
    Files.move(
        tmp,
        e.file(dir),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  /**
   * Removes an entry's file (call with the lock held).
   *
   * @param e the entry
   */
  void remove(Entry e) {
    try {
      Files.deleteIfExists(e.file(dir));
    } catch (IOException ignored) {
      // a file left behind is restored again by the next open: harmless
    }
  }

  /**
   * @return every entry in the ledger (call with the lock held); unreadable files are skipped
   */
  List<Entry> entries() {
    List<Entry> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (Stream<Path> s = Files.list(dir)) {
      for (Path f : (Iterable<Path>) s::iterator) {
        if (!f.getFileName().toString().endsWith(".offloads")) {
          continue;
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
          p.load(r);
          String fs = p.getProperty("features", "");
          out.add(
              new Entry(
                  p.getProperty("netns", ""),
                  p.getProperty("inode", ""),
                  p.getProperty("device", ""),
                  Integer.parseInt(p.getProperty("index", "0")),
                  fs.isEmpty() ? List.of() : Arrays.asList(fs.split(",")),
                  Long.parseLong(p.getProperty("pid", "0")),
                  Long.parseLong(p.getProperty("start", "0"))));
        } catch (IOException | RuntimeException e) {
          // unreadable (a half-written temporary file is not named .offloads): skip it
        }
      }
    } catch (IOException e) {
      return out;
    }
    return out;
  }

  /**
   * @return this process's pid and start time, as entries carry them
   */
  static long[] self() {
    ProcessHandle h = ProcessHandle.current();
    return new long[] {h.pid(), h.info().startInstant().map(i -> i.toEpochMilli()).orElse(0L)};
  }

  /**
   * @param e an entry
   * @return true if its owner still runs: the pid exists and started when the entry says
   */
  static boolean ownerAlive(Entry e) {
    Optional<ProcessHandle> h = ProcessHandle.of(e.pid());
    if (h.isEmpty()) {
      return false;
    }
    if (e.start() == 0) {
      return true;
    }
    long start = h.get().info().startInstant().map(i -> i.toEpochMilli()).orElse(0L);
    return start == 0 || start == e.start();
  }

  /**
   * Turns back on what dead owners turned off, and removes their entries (call with the lock held).
   * An entry whose namespace is gone (its file missing, or naming another namespace now) or whose
   * interface is gone is removed: the interface went with it. An entry for the JVM's namespace that
   * a process in another namespace finds is left for a process in that namespace.
   *
   * @return the entries restored or removed
   */
  List<Entry> restoreDead() {
    List<Entry> done = new ArrayList<>();
    for (Entry e : entries()) {
      if (ownerAlive(e)) {
        continue;
      }
      String path = e.nsPath().isEmpty() ? null : e.nsPath();
      if (path != null && !Files.exists(Path.of(path))) {
        remove(e);
        done.add(e);
        continue;
      }
      try (NetnsThread t = NetnsThread.open(path, "offloads")) {
        if (!t.inode().equals(e.nsInode())) {
          if (path != null) {
            remove(e); // the path names another namespace now: the one recorded is gone
            done.add(e);
          }
          continue;
        }
        boolean restored =
            t.run(
                () -> {
                  if (!e.device().equals(Ethtool.nameOf(e.index()))) {
                    return true; // the interface is gone
                  }
                  Ethtool.request(e.device(), e.features(), true);
                  return true;
                });
        if (restored) {
          remove(e);
          done.add(e);
        }
      } catch (IOException | RuntimeException ex) {
        // cannot reach it now (no privilege, say): left for the next open
      }
    }
    return done;
  }
}
