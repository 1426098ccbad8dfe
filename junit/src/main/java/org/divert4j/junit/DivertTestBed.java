package org.divert4j.junit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Registers {@link DivertExtension} on a test class or method, and says what test bed its tests
 * get. On a method it overrides the class's annotation. Every attribute has the default of {@link
 * org.divert4j.testbed.TestBedOptions#defaults()}.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Documented
@Inherited
@ExtendWith(DivertExtension.class)
public @interface DivertTestBed {
  /**
   * @return true for a far peer beyond the host, with forwarding on (the backend needs {@link
   *     org.divert4j.Capability#FORWARD})
   */
  boolean farPeer() default false;

  /**
   * @return the MTU of the link between the peer and the host, 576..65535
   */
  int peerMtu() default 1500;

  /**
   * @return the MTU of the link between the host and the far peer, 576..65535
   */
  int farPeerMtu() default 1500;
}
