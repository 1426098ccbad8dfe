/**
 * divert4j-impair: a network-condition emulator (delay and jitter, random and bursty loss,
 * duplication, reordering, a rate limit, corruption) built on the public divert4j API alone. See
 * {@link org.divert4j.impair.Impairer}.
 */
module org.divert4j.impair {
  requires transitive org.divert4j;

  exports org.divert4j.impair;
}
