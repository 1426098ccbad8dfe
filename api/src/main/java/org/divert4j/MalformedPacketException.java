package org.divert4j;

import org.divert4j.packet.Defect;

/**
 * A packet is not a well-formed IPv4 packet (SEMANTICS.md S47) or IPv6 packet (S62). {@link
 * #defect()} names what is wrong. Nothing was sent and the socket keeps working.
 */
public final class MalformedPacketException extends DivertException {
  private static final long serialVersionUID = 1L;

  /** The first defect found. */
  private final Defect defect;

  /**
   * @param defect what is wrong
   * @param detail the values that show it, e.g. "IHL 4"; may be empty
   */
  public MalformedPacketException(Defect defect, String detail) {
    super(
        "malformed packet: "
            + defect.description()
            + (detail == null || detail.isEmpty() ? "" : " (" + detail + ")"),
        NO_ERRNO,
        null);
    this.defect = defect;
  }

  /**
   * @return the defect found
   */
  public Defect defect() {
    return defect;
  }
}
